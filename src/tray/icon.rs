//! The tray's three icons (no session active / some session active / some session in error),
//! drawn in code at 32×32 with anti-aliased edges, so they stay crisp when the panel scales
//! them to 16–32 px. The drawing (a badge with a key cut out, on a 32-unit grid) is written
//! down once here and rendered at any size or as SVG: `examples/write_icons.rs` writes the
//! tray's PNGs and the application's hicolor icons from it.

use std::fmt::Write as _;

use credtray::session::{Catalog, State};

pub const SIZE: u32 = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Look {
    Inactive,
    Active,
    Error,
}

impl Look {
    pub fn of(catalog: &Catalog) -> Self {
        let states = catalog.sessions().iter().map(|s| &s.state);
        if states.clone().any(|s| matches!(s, State::Error(_))) {
            Look::Error
        } else if states.into_iter().any(|s| *s == State::Active) {
            Look::Active
        } else {
            Look::Inactive
        }
    }

    pub fn colour(self) -> [u8; 3] {
        match self {
            Look::Inactive => [0x8a, 0x8f, 0x98],
            Look::Active => [0x2e, 0x9d, 0x4f],
            Look::Error => [0xd3, 0x3a, 0x2f],
        }
    }
}

/// RGBA pixels, row by row: a round badge with a key cut out of it, at the tray's size.
pub fn rgba(look: Look) -> Vec<u8> {
    draw(look.colour(), SIZE)
}

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
pub fn draw(colour: [u8; 3], size: u32) -> Vec<u8> {
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

/// The same drawing as SVG shapes on the same grid: the badge, masked by the key (for the
/// application's scalable icon; `examples/write_icons.rs` writes it).
#[allow(dead_code)]
pub fn svg(colour: [u8; 3]) -> String {
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
         <!-- credtray: written by examples/write_icons.rs from src/tray/icon.rs -->\n\
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icons_are_32px_rgba_with_transparent_corners_and_a_key_cut_out() {
        for look in [Look::Inactive, Look::Active, Look::Error] {
            let p = rgba(look);
            assert_eq!(p.len(), (SIZE * SIZE * 4) as usize);
            let alpha = |x: u32, y: u32| p[((y * SIZE + x) * 4 + 3) as usize];
            assert_eq!(alpha(0, 0), 0, "corner is transparent");
            assert_eq!(alpha(16, 4), 255, "badge is opaque");
            assert_eq!(alpha(20, 16), 0, "the key's shaft is cut out");
            assert!(
                (1..255).contains(&alpha(16, 0)) || (1..255).contains(&alpha(31, 16)),
                "edges are anti-aliased"
            );
        }
    }

    #[test]
    fn the_drawing_scales_and_its_svg_has_the_same_shapes() {
        for size in [16u32, 256] {
            let p = draw(Look::Active.colour(), size);
            assert_eq!(p.len(), (size * size * 4) as usize);
            let alpha = |x: u32, y: u32| p[((y * size + x) * 4 + 3) as usize];
            assert_eq!(alpha(0, 0), 0);
            assert_eq!(alpha(size / 2, size / 8), 255);
            assert!(
                alpha(size * 20 / 32, size / 2) < 64,
                "the shaft at {size} px"
            );
        }
        let svg = svg(Look::Active.colour());
        assert!(
            svg.contains("<circle cx=\"16\" cy=\"16\" r=\"15.5\" fill=\"#2e9d4f\""),
            "{svg}"
        );
        assert!(
            svg.contains("<rect x=\"15.5\" y=\"14.6\" width=\"10\" height=\"2.8\""),
            "{svg}"
        );
    }
}
