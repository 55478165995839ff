//! The tray's three icons (no session active / some session active / some session in error),
//! drawn in code at 32×32 with anti-aliased edges, so they stay crisp when the panel scales
//! them to 16–32 px. `cargo run --example write_icons` writes the same pixels to `icons/*.png` for
//! packaging.

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

    fn colour(self) -> [u8; 3] {
        match self {
            Look::Inactive => [0x8a, 0x8f, 0x98],
            Look::Active => [0x2e, 0x9d, 0x4f],
            Look::Error => [0xd3, 0x3a, 0x2f],
        }
    }
}

/// RGBA pixels, row by row: a round badge with a key cut out of it.
pub fn rgba(look: Look) -> Vec<u8> {
    let [r, g, b] = look.colour();
    let mut pixels = Vec::with_capacity((SIZE * SIZE * 4) as usize);
    for y in 0..SIZE {
        for x in 0..SIZE {
            // Supersample 4×4 per pixel for smooth edges.
            let mut cover = 0u32;
            for sy in 0..4 {
                for sx in 0..4 {
                    let px = x as f32 + (sx as f32 + 0.5) / 4.0;
                    let py = y as f32 + (sy as f32 + 0.5) / 4.0;
                    if inside_badge(px, py) && !inside_key(px, py) {
                        cover += 1;
                    }
                }
            }
            let alpha = (cover * 255 / 16) as u8;
            pixels.extend_from_slice(&[r, g, b, alpha]);
        }
    }
    pixels
}

fn inside_badge(x: f32, y: f32) -> bool {
    let (cx, cy) = (16.0, 16.0);
    (x - cx).powi(2) + (y - cy).powi(2) <= 15.5_f32.powi(2)
}

/// A key: a ring head on the left, a shaft to the right with two teeth.
fn inside_key(x: f32, y: f32) -> bool {
    let head = {
        let d = ((x - 11.0).powi(2) + (y - 16.0).powi(2)).sqrt();
        (2.2..=5.2).contains(&d)
    };
    let shaft = (15.5..=25.5).contains(&x) && (14.6..=17.4).contains(&y);
    let tooth1 = (20.5..=22.5).contains(&x) && (17.0..=20.5).contains(&y);
    let tooth2 = (23.5..=25.5).contains(&x) && (17.0..=21.5).contains(&y);
    head || shaft || tooth1 || tooth2
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
}
