//! Writes credtray's icons from the tray's one drawing (a round badge with a key cut out):
//! - `write_icons` (`cargo run --example write_icons`): the tray's three icons,
//!   `icons/credtray-{inactive,active,error}.png`, 32×32, the pixels the tray draws at run time.
//! - `write_icons --app DIR`: the application's icon (the active badge) for the desktop entry,
//!   as `DIR/hicolor/{16x16,…,256x256}/apps/credtray.png` and
//!   `DIR/hicolor/scalable/apps/credtray.svg`. `scripts/package` runs it.
//!
//! The drawing is written down here once, on the tray's 32-unit grid, and rendered at any
//! size or as SVG shapes. `src/tray/icon.rs` draws it too, at 32 px only; before writing
//! anything this example checks that its 32-px rendering is byte for byte the tray's, so the
//! two can't drift apart unnoticed.

use std::fmt::Write as _;
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

/// Supersampling: SAMPLES × SAMPLES points per pixel, for smooth edges (as the tray does).
const SAMPLES: u32 = 4;

/// The drawing's units: the tray's 32 × 32 pixel grid.
const GRID: f32 = 32.0;

struct Circle {
    cx: f32,
    cy: f32,
    r: f32,
}

/// A rectangle, edges included: `x0..=x1`, `y0..=y1`.
struct Rect {
    x0: f32,
    x1: f32,
    y0: f32,
    y1: f32,
}

/// The badge.
const BADGE: Circle = Circle {
    cx: 16.0,
    cy: 16.0,
    r: 15.5,
};
/// The key's head, a ring: the badge between its two radii is cut out.
const HEAD: Circle = Circle {
    cx: 11.0,
    cy: 16.0,
    r: 5.2,
};
const HEAD_HOLE: f32 = 2.2;
/// The key's shaft to the right of the head, and its two teeth below the shaft.
const BARS: [Rect; 3] = [
    Rect {
        x0: 15.5,
        x1: 25.5,
        y0: 14.6,
        y1: 17.4,
    },
    Rect {
        x0: 20.5,
        x1: 22.5,
        y0: 17.0,
        y1: 20.5,
    },
    Rect {
        x0: 23.5,
        x1: 25.5,
        y0: 17.0,
        y1: 21.5,
    },
];

// The tests below are written as the tray's are (same operations in the same order, in f32), so
// that at 32 px the coverage is bit-identical.
fn inside_badge(x: f32, y: f32) -> bool {
    (x - BADGE.cx).powi(2) + (y - BADGE.cy).powi(2) <= BADGE.r.powi(2)
}

fn inside_key(x: f32, y: f32) -> bool {
    let d = ((x - HEAD.cx).powi(2) + (y - HEAD.cy).powi(2)).sqrt();
    (HEAD_HOLE..=HEAD.r).contains(&d)
        || BARS
            .iter()
            .any(|b| (b.x0..=b.x1).contains(&x) && (b.y0..=b.y1).contains(&y))
}

/// RGBA pixels of the drawing at `size` × `size`, row by row, in `colour`.
fn draw(colour: [u8; 3], size: u32) -> Vec<u8> {
    let [r, g, b] = colour;
    let scale = GRID / size as f32;
    let mut pixels = Vec::with_capacity((size * size * 4) as usize);
    for y in 0..size {
        for x in 0..size {
            let mut cover = 0u32;
            for sy in 0..SAMPLES {
                for sx in 0..SAMPLES {
                    let px = (x as f32 + (sx as f32 + 0.5) / SAMPLES as f32) * scale;
                    let py = (y as f32 + (sy as f32 + 0.5) / SAMPLES as f32) * scale;
                    if inside_badge(px, py) && !inside_key(px, py) {
                        cover += 1;
                    }
                }
            }
            let alpha = (cover * 255 / (SAMPLES * SAMPLES)) as u8;
            pixels.extend_from_slice(&[r, g, b, alpha]);
        }
    }
    pixels
}

/// The same drawing as SVG shapes on the same grid: the badge, masked by the key.
fn svg(colour: [u8; 3]) -> String {
    let [r, g, b] = colour;
    let n = |v: f32| {
        // The grid's values have one decimal; f32 subtraction leaves 2.8000002: round it off.
        let text = format!("{v:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    };
    let mut out = String::new();
    // `write!` to a String can't fail.
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{g0}\" height=\"{g0}\" viewBox=\"0 0 {g0} {g0}\">\n\
         <!-- credtray: written by examples/write_icons.rs from the tray's drawing -->\n\
         <defs>\n<mask id=\"key\" maskUnits=\"userSpaceOnUse\" x=\"0\" y=\"0\" width=\"{g0}\" height=\"{g0}\">\n\
         <rect width=\"{g0}\" height=\"{g0}\" fill=\"#fff\"/>\n\
         <circle cx=\"{hx}\" cy=\"{hy}\" r=\"{hr}\" fill=\"#000\"/>\n\
         <circle cx=\"{hx}\" cy=\"{hy}\" r=\"{hh}\" fill=\"#fff\"/>\n",
        g0 = n(GRID),
        hx = n(HEAD.cx),
        hy = n(HEAD.cy),
        hr = n(HEAD.r),
        hh = n(HEAD_HOLE),
    );
    for bar in &BARS {
        let _ = writeln!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#000\"/>",
            n(bar.x0),
            n(bar.y0),
            n(bar.x1 - bar.x0),
            n(bar.y1 - bar.y0)
        );
    }
    let _ = write!(
        out,
        "</mask>\n</defs>\n\
         <circle cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"#{r:02x}{g:02x}{b:02x}\" mask=\"url(#key)\"/>\n\
         </svg>\n",
        n(BADGE.cx),
        n(BADGE.cy),
        n(BADGE.r),
    );
    out
}

/// A look's colour, read from the tray's own pixels (every pixel carries it; only alpha varies).
fn colour(look: Look) -> [u8; 3] {
    let p = icon::rgba(look);
    [p[0], p[1], p[2]]
}

fn main() -> anyhow::Result<()> {
    for look in [Look::Inactive, Look::Active, Look::Error] {
        anyhow::ensure!(
            draw(colour(look), SIZE) == icon::rgba(look),
            "examples/write_icons.rs no longer draws what src/tray/icon.rs draws ({look:?}): \
             change both"
        );
    }
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
    let colour = colour(Look::Active);
    let theme = dir.join("hicolor");
    for size in APP_SIZES {
        let path = theme.join(format!("{size}x{size}/apps/credtray.png"));
        write(&path, &png(&draw(colour, size), size, size))?;
    }
    write(
        &theme.join("scalable/apps/credtray.svg"),
        svg(colour).as_bytes(),
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
