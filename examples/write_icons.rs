//! Writes credtray's icons from the tray's one drawing (a round badge with a key cut out):
//! - `write_icons` (`cargo run --example write_icons`): the tray's three icons,
//!   `icons/credtray-{inactive,active,error}.png`, 32×32, the pixels the tray draws at run time.
//! - `write_icons --app DIR`: the application's icon (the active badge) for the desktop entry,
//!   as `DIR/hicolor/{16x16,…,256x256}/apps/credtray.png` and
//!   `DIR/hicolor/scalable/apps/credtray.svg`. `scripts/package` runs it.
//!
//! The drawing and its renderings (any size, SVG) are `src/tray/icon.rs`'s, the tray's own.

use std::path::Path;

use anyhow::Context;

// The tray's own drawing code, shared with the tray executable (a binary, so not a library
// path an example can `use`).
#[allow(dead_code)]
#[path = "../src/tray/icon.rs"]
mod icon;

use icon::{Look, SIZE};

/// The hicolor sizes desktops look for an application icon at.
const APP_SIZES: [u32; 8] = [16, 22, 24, 32, 48, 64, 128, 256];

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => tray_icons(),
        [flag, dir] if flag == "--app" => app_icons(Path::new(dir)),
        _ => anyhow::bail!("usage: write_icons [--app DIR]"),
    }
}

/// The tray's icons, into the source tree's icons/.
fn tray_icons() -> anyhow::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("icons");
    for look in [Look::Inactive, Look::Active, Look::Error] {
        let name = match look {
            Look::Inactive => "inactive",
            Look::Active => "active",
            Look::Error => "error",
        };
        write(
            &dir.join(format!("credtray-{name}.png")),
            &png(&icon::rgba(look), SIZE, SIZE),
        )?;
    }
    Ok(())
}

/// The application's icon in a hicolor theme's layout under `dir`.
fn app_icons(dir: &Path) -> anyhow::Result<()> {
    let colour = Look::Active.colour();
    let theme = dir.join("hicolor");
    for size in APP_SIZES {
        let path = theme.join(format!("{size}x{size}/apps/credtray.png"));
        write(&path, &png(&icon::draw(colour, size), size, size))?;
    }
    write(
        &theme.join("scalable/apps/credtray.svg"),
        icon::svg(colour).as_bytes(),
    )
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}

/// A PNG of RGBA pixels, stored without compression (the icons are small, and the package
/// compresses them anyway).
fn png(pixels: &[u8], width: u32, height: u32) -> Vec<u8> {
    let mut raw = Vec::new();
    for row in pixels.chunks((width * 4) as usize) {
        raw.push(0); // filter: none
        raw.extend_from_slice(row);
    }
    let mut zlib = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        zlib.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        zlib.extend_from_slice(&len.to_le_bytes());
        zlib.extend_from_slice(&(!len).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for byte in &raw {
        a = (a + u32::from(*byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]); // 8-bit RGBA
    let mut out = vec![0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];
    for (kind, data) in [(b"IHDR", ihdr), (b"IDAT", zlib), (b"IEND", Vec::new())] {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut chunk = kind.to_vec();
        chunk.extend_from_slice(&data);
        out.extend_from_slice(&chunk);
        out.extend_from_slice(&crc32(&chunk).to_be_bytes());
    }
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for byte in bytes {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
