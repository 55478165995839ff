//! The smallest tao + tray-icon app (one menu item), for scripts/bench/tray to compare
//! credtray's memory against.

use tao::event::{Event, StartCause};
use tao::event_loop::{ControlFlow, EventLoopBuilder};
use tray_icon::menu::{Menu, MenuItem};
use tray_icon::{Icon, TrayIconBuilder};

fn main() {
    let event_loop = EventLoopBuilder::new().build();
    let menu = Menu::new();
    let quit = MenuItem::new("Quit", true, None);
    menu.append(&quit).expect("a menu takes an item");
    // The icon lives as long as it is held.
    let mut icons = Vec::new();
    event_loop.run(move |event, _, control_flow| {
        *control_flow = ControlFlow::Wait;
        if let Event::NewEvents(StartCause::Init) = event {
            let icon = Icon::from_rgba(vec![128; 32 * 32 * 4], 32, 32).expect("a 32x32 icon");
            icons.push(
                TrayIconBuilder::new()
                    .with_menu(Box::new(menu.clone()))
                    .with_icon(icon)
                    .build()
                    .expect("a tray icon"),
            );
        }
    })
}
