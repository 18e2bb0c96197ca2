//! What a sheet's bytes are: CSV text or one of the workbook formats, told by the bytes
//! first (a workbook saved as `.csv` is still a workbook), then the extension.

use std::io::Cursor;

use crate::sheet::SheetError;

/// What kind of file a sheet is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Comma, semicolon or tab separated text.
    Csv,
    /// Excel 2007+ (`.xlsx`, `.xlsm`).
    Xlsx,
    /// Excel 97-2003 (`.xls`).
    Xls,
    /// Excel binary (`.xlsb`).
    Xlsb,
    /// OpenDocument (`.ods`).
    Ods,
}

impl Kind {
    /// The file extension this kind is saved with.
    pub fn extension(self) -> &'static str {
        match self {
            Kind::Csv => "csv",
            Kind::Xlsx => "xlsx",
            Kind::Xls => "xls",
            Kind::Xlsb => "xlsb",
            Kind::Ods => "ods",
        }
    }

    /// The workbook kind an extension names, if it names one.
    pub fn from_extension(ext: &str) -> Option<Kind> {
        match ext.to_ascii_lowercase().as_str() {
            "xlsx" | "xlsm" => Some(Kind::Xlsx),
            "xls" => Some(Kind::Xls),
            "xlsb" => Some(Kind::Xlsb),
            "ods" => Some(Kind::Ods),
            _ => None,
        }
    }

    /// The kind of `bytes`, judged by their content first (a workbook saved as `.csv` is
    /// still a workbook), then by the extension: a file named like a workbook that is not
    /// one is refused, saying what it looks like.
    pub fn detect(ext: Option<&str>, bytes: &[u8]) -> Result<Kind, SheetError> {
        const ZIP: &[u8] = b"PK\x03\x04";
        const OLE: &[u8] = &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
        if bytes.starts_with(OLE) {
            return Ok(Kind::Xls);
        }
        let named = ext.and_then(Kind::from_extension);
        if bytes.starts_with(ZIP) {
            return zip_kind(bytes).map_err(SheetError::Workbook);
        }
        match named {
            None => Ok(Kind::Csv),
            Some(k) => Err(SheetError::Workbook(format!(
                "the file is named .{} but is not a workbook: {}",
                ext.unwrap_or_default(),
                looks_like(bytes, k)
            ))),
        }
    }
}

/// What a file that should be a workbook seems to be.
fn looks_like(bytes: &[u8], kind: Kind) -> String {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_lowercase();
    if bytes.is_empty() {
        "it is empty".into()
    } else if head.trim_start().starts_with('<') && head.contains("html") {
        "it is a web page (HTML); download the sheet itself (File → Download) instead of \
         saving the page"
            .into()
    } else if std::str::from_utf8(&bytes[..bytes.len().min(4096)]).is_ok_and(|t| {
        !t.contains('\0') && (t.contains(',') || t.contains(';') || t.contains('\t'))
    }) {
        "it looks like CSV text; rename it to .csv".into()
    } else {
        format!(
            "it does not start like a .{} file (it may be truncated or damaged); open it in \
             your spreadsheet program and save it again",
            kind.extension()
        )
    }
}

/// The workbook inside a zip archive, from the names of its parts.
fn zip_kind(bytes: &[u8]) -> Result<Kind, String> {
    let zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| {
        format!(
            "the workbook is damaged or truncated ({e}); open it in your spreadsheet program \
             and save it again, or download it again"
        )
    })?;
    let has = |name: &str| zip.file_names().any(|n| n.is_ok_and(|n| n == name));
    if has("xl/workbook.xml") {
        Ok(Kind::Xlsx)
    } else if has("xl/workbook.bin") {
        Ok(Kind::Xlsb)
    } else if has("content.xml") {
        Ok(Kind::Ods)
    } else {
        Err(
            "the file is a zip archive but not a workbook (no xl/workbook.xml, \
             xl/workbook.bin or OpenDocument content in it); save the sheet again as .xlsx, \
             .ods or .csv"
                .into(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_content_then_extension() {
        assert_eq!(Kind::detect(Some("csv"), b"a,b\n1,2\n").unwrap(), Kind::Csv);
        assert_eq!(Kind::detect(None, b"a,b\n").unwrap(), Kind::Csv);
        let e = Kind::detect(Some("xlsx"), b"a,b\n1,2\n").unwrap_err();
        assert!(e.to_string().contains("rename it to .csv"), "{e}");
        let e = Kind::detect(Some("xlsx"), b"PK\x03\x04garbage").unwrap_err();
        assert!(e.to_string().contains("damaged or truncated"), "{e}");
    }
}
