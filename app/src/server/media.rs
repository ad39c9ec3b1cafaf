//! Product photos as files: an upload is checked (size, what it really is, pixel count), decoded,
//! turned upright, and re-encoded into a few widths, so no metadata (location, camera) and nothing
//! appended to the image survives. The files are named by a hash of their bytes and never change,
//! so they are served with a year's immutable caching from `MEDIA_DIR`.
//!
//! JPEG and PNG are already compressed: gzip or brotli would save next to nothing, so no
//! precompressed copies are written.

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use sha2::{Digest, Sha256};
use std::io::Cursor;
use std::path::{Path, PathBuf};

/// The largest upload accepted, in bytes.
pub const MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;
/// The most pixels a photo may have (a small file can claim a huge image: a decompression bomb).
pub const MAX_PIXELS: u64 = 40_000_000;
/// The widths written, in pixels (a smaller photo is kept at its own width, never enlarged).
pub const WIDTHS: [u32; 3] = [320, 640, 1280];
/// JPEG quality of the re-encoded files.
const JPEG_QUALITY: u8 = 82;

/// What the merchant is told when a photo is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhotoRefusal {
    #[error("Choose a photo to upload.")]
    Empty,
    #[error("“{name}” is larger than 10 MB. Save it smaller and upload it again.")]
    TooLarge { name: String },
    #[error("“{name}” is not a JPEG, PNG or WebP photo.")]
    NotAPhoto { name: String },
    #[error("“{name}” is named as a {claimed} photo but holds {actual}.")]
    NotWhatItClaims {
        name: String,
        claimed: &'static str,
        actual: &'static str,
    },
    #[error("“{name}” has {width} × {height} pixels; at most 40 million are accepted.")]
    TooManyPixels {
        name: String,
        width: u32,
        height: u32,
    },
    #[error("“{name}” could not be read as a {format} photo; it may be damaged.")]
    Unreadable { name: String, format: &'static str },
}

/// A file as it was uploaded.
pub struct Upload {
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// The re-encoded photo: its name (a hash of the files), format and one file per width.
#[derive(Debug, Clone)]
pub struct Processed {
    pub name: String,
    pub format: &'static str,
    pub files: Vec<Rendition>,
}

#[derive(Debug, Clone)]
pub struct Rendition {
    pub width: u32,
    pub height: u32,
    pub bytes: Vec<u8>,
}

impl Processed {
    /// The largest file's size.
    pub fn size(&self) -> (u32, u32) {
        self.files
            .last()
            .map(|f| (f.width, f.height))
            .unwrap_or_default()
    }
}

fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::Png => "PNG",
        ImageFormat::WebP => "WebP",
        _ => "another kind of file",
    }
}

/// The format the file's name claims, from its extension.
fn claimed_format(file_name: &str) -> Option<ImageFormat> {
    let extension = Path::new(file_name)
        .extension()?
        .to_str()?
        .to_ascii_lowercase();
    match extension.as_str() {
        "jpg" | "jpeg" => Some(ImageFormat::Jpeg),
        "png" => Some(ImageFormat::Png),
        "webp" => Some(ImageFormat::WebP),
        _ => None,
    }
}

/// Check and re-encode an upload (CPU work: call it on a blocking thread).
pub fn process(upload: &Upload) -> Result<Processed, PhotoRefusal> {
    let name = upload.file_name.clone();
    if upload.bytes.is_empty() {
        return Err(PhotoRefusal::Empty);
    }
    if upload.bytes.len() > MAX_UPLOAD_BYTES {
        return Err(PhotoRefusal::TooLarge { name });
    }
    let claimed =
        claimed_format(&name).ok_or_else(|| PhotoRefusal::NotAPhoto { name: name.clone() })?;
    let reader = ImageReader::new(Cursor::new(&upload.bytes[..]))
        .with_guessed_format()
        .map_err(|_| PhotoRefusal::NotAPhoto { name: name.clone() })?;
    let actual = reader.format();
    if actual != Some(claimed) {
        return Err(PhotoRefusal::NotWhatItClaims {
            name,
            claimed: format_name(claimed),
            actual: match actual {
                Some(f @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP)) => match f {
                    ImageFormat::Jpeg => "a JPEG image",
                    ImageFormat::Png => "a PNG image",
                    _ => "a WebP image",
                },
                _ => "something else",
            },
        });
    }
    let unreadable = || PhotoRefusal::Unreadable {
        name: name.clone(),
        format: format_name(claimed),
    };
    let mut reader = reader;
    let mut limits = Limits::default();
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|_| unreadable())?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(PhotoRefusal::TooManyPixels {
            name,
            width,
            height,
        });
    }
    let orientation = decoder.orientation().ok();
    let mut image = DynamicImage::from_decoder(decoder).map_err(|_| unreadable())?;
    if let Some(orientation) = orientation {
        image.apply_orientation(orientation);
    }
    Ok(encode(&image))
}

/// The widths to write for a photo `width` pixels wide.
pub fn widths_for(width: u32) -> Vec<u32> {
    let largest = width.min(WIDTHS[WIDTHS.len() - 1]).max(1);
    let mut widths: Vec<u32> = WIDTHS.iter().copied().filter(|w| *w < largest).collect();
    widths.push(largest);
    widths
}

fn encode(image: &DynamicImage) -> Processed {
    let transparent = image.color().has_alpha();
    let widths = widths_for(image.width());
    // Shrink once to the largest width, then each smaller width from that.
    let largest = resized(image, *widths.last().expect("at least one width"));
    let mut files = Vec::new();
    for width in widths {
        let scaled = if width == largest.width() {
            largest.clone()
        } else {
            resized(&largest, width)
        };
        let mut bytes = Vec::new();
        if transparent {
            let encoder = PngEncoder::new_with_quality(
                &mut bytes,
                CompressionType::Best,
                PngFilter::Adaptive,
            );
            scaled
                .to_rgba8()
                .write_with_encoder(encoder)
                .expect("PNG encoding into memory");
        } else {
            let encoder = JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY);
            scaled
                .to_rgb8()
                .write_with_encoder(encoder)
                .expect("JPEG encoding into memory");
        }
        files.push(Rendition {
            width: scaled.width(),
            height: scaled.height(),
            bytes,
        });
    }
    let mut hash = Sha256::new();
    for file in &files {
        hash.update(&file.bytes);
    }
    Processed {
        name: hex::encode(&hash.finalize()[..10]),
        format: if transparent { "png" } else { "jpg" },
        files,
    }
}

fn resized(image: &DynamicImage, width: u32) -> DynamicImage {
    if image.width() <= width {
        return image.clone();
    }
    let height = (u64::from(image.height()) * u64::from(width) / u64::from(image.width())).max(1);
    image.resize_exact(width, height as u32, FilterType::CatmullRom)
}

/// A file's name under `MEDIA_DIR` (and `/media/`): `{name}-{width}.{format}`.
pub fn file_name(name: &str, width: u32, format: &str) -> String {
    format!("{name}-{width}.{format}")
}

/// Write the photo's files (each to a temporary name, then renamed, so a reader never sees half a
/// file). Writing the same photo again changes nothing.
pub async fn write_files(media_dir: &Path, photo: &Processed) -> std::io::Result<()> {
    tokio::fs::create_dir_all(media_dir).await?;
    for file in &photo.files {
        let target = media_dir.join(file_name(&photo.name, file.width, photo.format));
        if tokio::fs::try_exists(&target).await.unwrap_or(false) {
            continue;
        }
        let temporary = temporary_path(&target);
        tokio::fs::write(&temporary, &file.bytes).await?;
        tokio::fs::rename(&temporary, &target).await?;
    }
    Ok(())
}

fn temporary_path(target: &Path) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.partial", uuid::Uuid::new_v4().simple()));
    target.with_file_name(name)
}

/// Delete a photo's files; ones already gone are fine.
pub async fn remove_files(media_dir: &Path, name: &str, format: &str, widths: &[u32]) {
    for width in widths {
        let path = media_dir.join(file_name(name, *width, format));
        if let Err(e) = tokio::fs::remove_file(&path).await {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(error = %e, path = %path.display(), "a removed photo's file stays");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage, Rgba, RgbaImage};

    fn upload(name: &str, bytes: Vec<u8>) -> Upload {
        Upload {
            file_name: name.to_string(),
            bytes,
        }
    }

    fn encoded(image: DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut bytes = Vec::new();
        image
            .write_to(&mut Cursor::new(&mut bytes), format)
            .unwrap();
        bytes
    }

    fn photo(width: u32, height: u32) -> DynamicImage {
        DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
            Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        }))
    }

    #[test]
    fn a_photo_is_written_in_each_width_up_to_its_own() {
        let bytes = encoded(photo(1000, 500), ImageFormat::Png);
        let processed = process(&upload("Mug.PNG", bytes)).unwrap();
        assert_eq!(processed.format, "jpg", "no transparency: JPEG");
        let sizes: Vec<(u32, u32)> = processed
            .files
            .iter()
            .map(|f| (f.width, f.height))
            .collect();
        assert_eq!(sizes, [(320, 160), (640, 320), (1000, 500)]);
        assert_eq!(processed.name.len(), 20);
        for file in &processed.files {
            assert_eq!(&file.bytes[..3], &[0xFF, 0xD8, 0xFF], "a JPEG file");
        }
        assert_eq!(widths_for(200), [200]);
        assert_eq!(widths_for(5000), [320, 640, 1280]);
    }

    #[test]
    fn transparency_is_kept_as_png() {
        let image = DynamicImage::ImageRgba8(RgbaImage::from_pixel(40, 30, Rgba([1, 2, 3, 0])));
        let processed = process(&upload("logo.webp", encoded(image, ImageFormat::WebP))).unwrap();
        assert_eq!(processed.format, "png");
        assert_eq!(&processed.files[0].bytes[1..4], b"PNG");
    }

    #[test]
    fn bytes_after_the_image_do_not_survive() {
        let mut bytes = encoded(photo(64, 64), ImageFormat::Jpeg);
        bytes.extend_from_slice(b"<script>alert(1)</script>");
        let processed = process(&upload("a.jpg", bytes)).unwrap();
        let file = &processed.files[0].bytes;
        assert!(!file.windows(8).any(|w| w == b"<script>"));
        assert_eq!(
            &file[file.len() - 2..],
            &[0xFF, 0xD9],
            "ends where a JPEG ends"
        );
    }

    #[test]
    fn what_is_not_the_photo_it_claims_is_refused_by_name() {
        let png = encoded(photo(8, 8), ImageFormat::Png);
        assert_eq!(
            process(&upload("photo.jpg", png.clone()))
                .unwrap_err()
                .to_string(),
            "“photo.jpg” is named as a JPEG photo but holds a PNG image."
        );
        assert_eq!(
            process(&upload("notes.jpg", b"hello, not a photo".to_vec()))
                .unwrap_err()
                .to_string(),
            "“notes.jpg” is named as a JPEG photo but holds something else."
        );
        assert!(matches!(
            process(&upload("photo.gif", png)),
            Err(PhotoRefusal::NotAPhoto { .. })
        ));
        assert_eq!(
            process(&upload("", Vec::new())).unwrap_err(),
            PhotoRefusal::Empty
        );
    }

    #[test]
    fn a_truncated_photo_is_unreadable() {
        let jpeg = encoded(photo(64, 64), ImageFormat::Jpeg);
        let refusal = process(&upload("cut.jpg", jpeg[..jpeg.len() / 3].to_vec())).unwrap_err();
        assert!(
            matches!(refusal, PhotoRefusal::Unreadable { .. }),
            "{refusal:?}"
        );
    }

    #[test]
    fn a_huge_image_in_a_small_file_is_refused_before_it_is_decoded() {
        // A PNG claiming 20,000 × 20,000 pixels (400 million), in a few dozen bytes: its header
        // and the start of its pixel data.
        let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut header = b"IHDR".to_vec();
        header.extend_from_slice(&20_000u32.to_be_bytes());
        header.extend_from_slice(&20_000u32.to_be_bytes());
        header.extend_from_slice(&[8, 0, 0, 0, 0]);
        // zlib, one stored deflate block of a single zero byte.
        let data = [
            b"IDAT".as_slice(),
            &[
                0x78, 0x01, 0x01, 0x01, 0x00, 0xFE, 0xFF, 0x00, 0x00, 0x01, 0x00, 0x01,
            ],
        ]
        .concat();
        for chunk in [header, data] {
            bytes.extend_from_slice(&(chunk.len() as u32 - 4).to_be_bytes());
            bytes.extend_from_slice(&chunk);
            bytes.extend_from_slice(&crc32(&chunk).to_be_bytes());
        }
        let refusal = process(&upload("bomb.png", bytes)).unwrap_err();
        assert_eq!(
            refusal.to_string(),
            "“bomb.png” has 20000 × 20000 pixels; at most 40 million are accepted."
        );
    }

    #[test]
    fn more_than_ten_megabytes_is_refused() {
        let refusal = process(&upload("big.jpg", vec![0; MAX_UPLOAD_BYTES + 1])).unwrap_err();
        assert!(matches!(refusal, PhotoRefusal::TooLarge { .. }));
    }

    /// PNG's chunk checksum (CRC-32, ISO 3309).
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for byte in bytes {
            crc ^= u32::from(*byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
}
