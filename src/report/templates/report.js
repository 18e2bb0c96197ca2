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
  var fresh = function () { return { group: "all", q: "", sort: "line", desc: false, yes: [], no: [] }; };
  var state = fresh();
  // References are letters, digits, '-' and '_': anything else in the address is ignored.
  var refs = function (v) { return v.split(",").filter(function (r) { return /^[A-Za-z0-9_-]+$/.test(r); }); };

  function read() {
    var h = location.hash.replace(/^#/, "").split("&");
    state = fresh();
    for (var i = 0; i < h.length; i++) {
      var kv = h[i].split("=");
      var v = decodeURIComponent((kv[1] || "").replace(/\+/g, " "));
      if (kv[0] === "state" && v) state.group = v;
      if (kv[0] === "q") state.q = v;
      if (kv[0] === "sort" && /^(line|cost|duration)$/.test(v)) state.sort = v;
      if (kv[0] === "desc") state.desc = v === "1";
      if (kv[0] === "yes") state.yes = refs(v);
      if (kv[0] === "no") state.no = refs(v);
    }
  }
  function write() {
    var h = "state=" + encodeURIComponent(state.group);
    if (state.q) h += "&q=" + encodeURIComponent(state.q);
    if (state.sort !== "line") h += "&sort=" + state.sort;
    if (state.desc) h += "&desc=1";
    // Ticks live in the address too, so the reloads of a live page keep them.
    if (state.yes.length) h += "&yes=" + state.yes.join(",");
    if (state.no.length) h += "&no=" + state.no.join(",");
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
    ticked();
  }

  // Reviewing: each ready preview's card has a tick (approve / reject / none). The ticks
  // become approvals.csv (key,reference,approve), one line per ticked card, read from the
  // cards' data- attributes; `run --approvals FILE` reads it back.
  var ticks = Array.prototype.slice.call(document.querySelectorAll("fieldset.tick"));
  var bar = document.getElementById("approvals");
  var download = document.getElementById("download");
  var count = document.getElementById("ticked");
  // A key a spreadsheet would run as a formula (= + - @, a tab or CR first, after any
  // number of ') gets one more ' first, as manifest.csv does; the reader takes it off.
  var cell = function (s) {
    if (/^'*[=+\-@\t\r]/.test(s)) s = "'" + s;
    return /[",\r\n]|^\s|\s$/.test(s) ? "\"" + s.replace(/"/g, "\"\"") + "\"" : s;
  };
  function verdictOf(ref) {
    if (state.yes.indexOf(ref) >= 0) return "yes";
    if (state.no.indexOf(ref) >= 0) return "no";
    return "";
  }
  function ticked() {
    if (!ticks.length) return;
    var csv = "key,reference,approve\r\n", yes = 0, no = 0;
    for (var i = 0; i < ticks.length; i++) {
      var t = ticks[i], ref = t.getAttribute("data-reference"), v = verdictOf(ref);
      var inputs = t.querySelectorAll("input");
      for (var j = 0; j < inputs.length; j++) inputs[j].checked = inputs[j].value === v;
      var card = t.closest("article");
      if (v) card.setAttribute("data-tick", v); else card.removeAttribute("data-tick");
      if (!v) continue;
      if (v === "yes") yes++; else no++;
      csv += cell(t.getAttribute("data-key")) + "," + cell(ref) + "," + v + "\r\n";
    }
    var n = yes + no;
    count.textContent = n ? n + (n === 1 ? " card ticked: " : " cards ticked: ") + yes + " to approve, " + no + " to reject." : "No card ticked yet: tick approve or reject on the previews below.";
    download.setAttribute("href", "data:text/csv;charset=utf-8," + encodeURIComponent(csv));
    if (n) download.removeAttribute("aria-disabled"); else download.setAttribute("aria-disabled", "true");
  }
  if (ticks.length && bar) {
    bar.hidden = false;
    ticks.forEach(function (t) {
      t.hidden = false;
      t.addEventListener("change", function (e) {
        var ref = t.getAttribute("data-reference"), v = e.target.value;
        state.yes = state.yes.filter(function (r) { return r !== ref; });
        state.no = state.no.filter(function (r) { return r !== ref; });
        if (v === "yes") state.yes.push(ref);
        if (v === "no") state.no.push(ref);
        write(); ticked();
      });
    });
    download.addEventListener("click", function (e) {
      if (download.hasAttribute("aria-disabled")) e.preventDefault();
    });
  }

  // A preview is a page of Creatify's, loaded only when asked for (the report fetches
  // nothing by itself): its button puts it in an iframe.
  var frames = Array.prototype.slice.call(document.querySelectorAll(".pv[data-src]"));
  frames.forEach(function (box) {
    var button = box.querySelector("button");
    if (!button) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var f = document.createElement("iframe");
      f.src = box.getAttribute("data-src");
      f.title = "Preview";
      f.loading = "lazy";
      f.referrerPolicy = "no-referrer";
      f.allowFullscreen = true;
      f.setAttribute("sandbox", "allow-scripts allow-same-origin allow-presentation");
      box.textContent = "";
      box.appendChild(f);
      box.setAttribute("data-loaded", "1");
    });
  });

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

  // A preview's age, as of now rather than as of the page's writing.
  var ages = document.querySelectorAll(".age[data-made]");
  for (var a = 0; a < ages.length; a++) {
    var secs = Date.now() / 1000 - parseFloat(ages[a].getAttribute("data-made"));
    if (secs >= 0) ages[a].textContent = age(secs);
  }
  function age(s) {
    if (s < 90) return Math.round(s) + " s";
    if (s < 5400) return Math.round(s / 60) + " min";
    if (s < 172800) return Math.round(s / 3600) + " h";
    return Math.round(s / 86400) + " days";
  }

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
      // A preview's player is another site's page: whether it plays cannot be seen, so an
      // opened one holds the reload.
      if (document.querySelector(".pv[data-loaded]")) playing = true;
      if (playing || document.activeElement === q) { setTimeout(tick, 2000); return; }
      location.reload();
    };
    setTimeout(tick, every * 1000);
  }
})();
