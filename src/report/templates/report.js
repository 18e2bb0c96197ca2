// Filters, search and sort for the report, and its reloading while a run goes on. The page
// reads fine without this: every card is in the HTML, in sheet order.
(function () {
  "use strict";
  var root = document.documentElement;
  var list = document.getElementById("cards");
  var cards = Array.prototype.slice.call(list.querySelectorAll("article.card"));
  // A row's variants sit in a section of their own; each card remembers where it lives.
  var groups = Array.prototype.slice.call(list.querySelectorAll("section.variants"));
  var homes = cards.map(function (c) { return c.parentNode; });
  var units = Array.prototype.slice.call(list.children);
  var chips = Array.prototype.slice.call(document.querySelectorAll(".chip"));
  var q = document.getElementById("q");
  var sort = document.getElementById("sort");
  var desc = document.getElementById("desc");
  var shown = document.getElementById("shown");
  var none = document.getElementById("none");
  var texts = cards.map(function (c) {
    var parts = c.querySelectorAll(".n, .k, .script, .label");
    var t = "";
    for (var i = 0; i < parts.length; i++) t += " " + parts[i].textContent;
    return t.toLowerCase();
  });
  var state = { group: "all", q: "", sort: "line", desc: false };

  function read() {
    var h = location.hash.replace(/^#/, "").split("&");
    state = { group: "all", q: "", sort: "line", desc: false };
    for (var i = 0; i < h.length; i++) {
      var kv = h[i].split("=");
      var v = decodeURIComponent((kv[1] || "").replace(/\+/g, " "));
      if (kv[0] === "state" && v) state.group = v;
      if (kv[0] === "q") state.q = v;
      if (kv[0] === "sort" && /^(line|cost|duration)$/.test(v)) state.sort = v;
      if (kv[0] === "desc") state.desc = v === "1";
    }
  }
  function write() {
    var h = "state=" + encodeURIComponent(state.group);
    if (state.q) h += "&q=" + encodeURIComponent(state.q);
    if (state.sort !== "line") h += "&sort=" + state.sort;
    if (state.desc) h += "&desc=1";
    if (history.replaceState) history.replaceState(null, "", "#" + h);
    else location.hash = h;
  }
  function apply() {
    q.value = state.q;
    sort.value = state.sort;
    desc.checked = state.desc;
    var needle = state.q.trim().toLowerCase();
    var n = 0;
    for (var i = 0; i < cards.length; i++) {
      var c = cards[i];
      var inGroup = state.group === "all" ||
        (state.group === "changed" ? c.hasAttribute("data-changed") : c.getAttribute("data-group") === state.group);
      var ok = inGroup && (!needle || texts[i].indexOf(needle) >= 0);
      if (ok) { c.removeAttribute("hidden"); n++; } else { c.setAttribute("hidden", ""); }
    }
    for (var j = 0; j < chips.length; j++) {
      chips[j].setAttribute("aria-pressed", chips[j].getAttribute("data-group") === state.group ? "true" : "false");
    }
    var key = state.sort, sign = state.desc ? -1 : 1;
    var byKey = function (a, b) {
      var d = parseFloat(a.getAttribute("data-" + key)) - parseFloat(b.getAttribute("data-" + key));
      if (!d) d = parseFloat(a.getAttribute("data-line")) - parseFloat(b.getAttribute("data-line"));
      return sign * d;
    };
    var frag = document.createDocumentFragment(), k;
    if (key === "line") {
      // In sheet order a row's variants stay side by side: every card goes back to its
      // group, and the groups move as one (a group with nothing shown hides).
      for (k = 0; k < cards.length; k++) homes[k].appendChild(cards[k]);
      var order = units.slice().sort(byKey);
      for (k = 0; k < order.length; k++) frag.appendChild(order[k]);
      for (k = 0; k < groups.length; k++) groups[k].hidden = !groups[k].querySelector("article.card:not([hidden])");
    } else {
      // By cost or duration each video takes its own place (its card still names its
      // variant): the groups step aside.
      var sorted = cards.slice().sort(byKey);
      for (k = 0; k < sorted.length; k++) frag.appendChild(sorted[k]);
      for (k = 0; k < groups.length; k++) groups[k].hidden = true;
    }
    list.appendChild(frag);
    shown.textContent = n === cards.length ? cards.length + " videos" : n + " of " + cards.length + " videos";
    none.hidden = n > 0;
  }

  document.getElementById("tools").hidden = false;
  for (var i = 0; i < chips.length; i++) {
    chips[i].addEventListener("click", function (e) {
      e.preventDefault();
      state.group = this.getAttribute("data-group");
      write(); apply();
    });
  }
  q.addEventListener("input", function () { state.q = q.value; write(); apply(); });
  sort.addEventListener("change", function () { state.sort = sort.value; write(); apply(); });
  desc.addEventListener("change", function () { state.desc = desc.checked; write(); apply(); });
  window.addEventListener("hashchange", function () { read(); apply(); });
  read();
  apply();

  // Times in the reader's own zone.
  var times = document.querySelectorAll("time[datetime]");
  for (var t = 0; t < times.length; t++) {
    var d = new Date(times[t].getAttribute("datetime"));
    if (!isNaN(d)) { times[t].title = times[t].textContent; times[t].textContent = d.toLocaleString(); }
  }

  // While a run writes this page: reload it (keeping the filters, they are in the address),
  // but never in the middle of a video or of typing, and not forever if the run stopped
  // without a last word (a killed process): after 10 minutes without news, say so instead.
  var every = parseInt(root.getAttribute("data-refresh"), 10);
  if (every > 0) {
    var written = parseFloat(root.getAttribute("data-written")) * 1000;
    var live = document.getElementById("live");
    var tick = function () {
      if (Date.now() - written > 600000) {
        if (live) live.textContent = "This page has not been updated since " + new Date(written).toLocaleString() + ": the run may have stopped. Run it again to resume; the page is rewritten as it goes.";
        return;
      }
      var playing = false, vids = document.querySelectorAll("video");
      for (var v = 0; v < vids.length; v++) if (!vids[v].paused) playing = true;
      if (playing || document.activeElement === q) { setTimeout(tick, 2000); return; }
      location.reload();
    };
    setTimeout(tick, every * 1000);
  }
})();
