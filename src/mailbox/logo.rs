//! The consent screen's logo, `[google] logo = "logo.png"`: checked before anything is sent,
//! with the console's rules (JPG, PNG or BMP; at most 1 MB; square; 120 × 120 px shows best).
//! The format is read from the file's content (its header), never from its name: a renamed
//! PDF is refused. The headers are parsed by the `imagesize` crate.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::spec::Spec;

/// The console refuses larger files.
pub const MAX_BYTES: u64 = 1024 * 1024;
/// The size Google shows best.
pub const BEST: usize = 120;

#[derive(Clone, Debug, PartialEq)]
pub struct Logo {
    pub path: PathBuf,
    pub format: &'static str,
    pub width: usize,
    pub height: usize,
    pub bytes: u64,
}

impl Logo {
    /// A remark when the logo is valid but not the size Google shows best.
    pub fn note(&self) -> Option<String> {
        (self.width != BEST).then(|| {
            format!(
                "{} × {} px; Google shows {BEST} × {BEST} px best (it is scaled)",
                self.width, self.height
            )
        })
    }

    /// The checklist's value: the file to upload, and the note.
    pub fn checklist(&self) -> String {
        match self.note() {
            Some(n) => format!("upload {} ({}; {n})", self.path.display(), self.format),
            None => format!(
                "upload {} ({}, {} × {} px)",
                self.path.display(),
                self.format,
                self.width,
                self.height
            ),
        }
    }
}

/// Checks the spec's logo, if it names one. A bad logo is bad input at its spec line (exit 3).
pub fn check(spec: &Spec) -> Result<Option<Logo>> {
    let Some(name) = spec.google.as_ref().and_then(|g| g.logo.as_deref()) else {
        return Ok(None);
    };
    let base = spec.file.parent().unwrap_or(Path::new("."));
    let path = base.join(name);
    inspect(&path)
        .map(Some)
        .map_err(|m| spec.field_error("google.logo", format!("{}: {m}", path.display())))
}

/// Reads at most [`MAX_BYTES`] + 1 bytes and judges them.
pub fn inspect(path: &Path) -> std::result::Result<Logo, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read the logo: {e}"))?;
    let mut data = Vec::new();
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut data)
        .map_err(|e| format!("cannot read the logo: {e}"))?;
    let bytes = data.len() as u64;
    if bytes > MAX_BYTES {
        return Err("is larger than 1 MB; the consent screen takes at most 1 MB".into());
    }
    let format = match imagesize::image_type(&data) {
        Ok(imagesize::ImageType::Png) => "PNG",
        Ok(imagesize::ImageType::Jpeg) => "JPG",
        Ok(imagesize::ImageType::Bmp) => "BMP",
        _ => {
            return Err(format!(
                "is {}, not a JPG, PNG or BMP image (the format is read from the content, not the name)",
                describe(&data)
            ));
        }
    };
    let size =
        imagesize::blob_size(&data).map_err(|e| format!("is a damaged {format} image: {e}"))?;
    if size.width == 0 || size.width != size.height {
        return Err(format!(
            "is {} × {} px; the consent-screen logo must be square ({BEST} × {BEST} px shows best)",
            size.width, size.height
        ));
    }
    Ok(Logo {
        path: path.to_owned(),
        format,
        width: size.width,
        height: size.height,
        bytes,
    })
}

/// What a refused file looks like, for the message.
fn describe(data: &[u8]) -> &'static str {
    if data.starts_with(b"%PDF") {
        "a PDF document"
    } else if data.starts_with(b"GIF8") {
        "a GIF image"
    } else if data.len() > 12 && &data[..4] == b"RIFF" && &data[8..12] == b"WEBP" {
        "a WebP image"
    } else if data.starts_with(b"<svg") || data.starts_with(b"<?xml") {
        "an SVG/XML document"
    } else if data.is_empty() {
        "empty"
    } else {
        "not an image mailreg recognises"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A baseline JPEG's header: SOI, JFIF APP0, SOF0 with the size, EOI.
    fn jpeg(w: u16, h: u16) -> Vec<u8> {
        let mut b = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
        b.extend(b"JFIF\0\x01\x01\x00\x00\x01\x00\x01\x00\x00");
        b.extend([0xFF, 0xC0, 0x00, 0x11, 0x08]);
        b.extend(h.to_be_bytes());
        b.extend(w.to_be_bytes());
        b.extend([0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01]);
        b.extend([0xFF, 0xD9]);
        b
    }

    #[test]
    fn a_jpeg_is_read_by_content_and_a_gif_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logo.bmp");
        std::fs::write(&path, jpeg(120, 120)).unwrap();
        let logo = inspect(&path).unwrap();
        assert_eq!((logo.format, logo.width, logo.height), ("JPG", 120, 120));
        assert_eq!(logo.note(), None);
        std::fs::write(&path, b"GIF89a\x78\x00\x78\x00\x00\x00\x00").unwrap();
        assert_eq!(
            inspect(&path).unwrap_err(),
            "is a GIF image, not a JPG, PNG or BMP image (the format is read from the content, not the name)"
        );
        std::fs::write(&path, b"").unwrap();
        assert!(
            inspect(&path)
                .unwrap_err()
                .starts_with("is empty, not a JPG")
        );
    }
}
