//! The few Win32 calls std does not wrap that credtray makes outside the agent's pipe
//! (`agent::socket::windows`): the per-user `Run` key (Start at login), the shell's URL handler
//! (`browser::open`), and the console's Ctrl-C handler (`exec`). Windows only; every `unsafe`
//! block of it says why it is sound.

#![allow(unsafe_code)]

use std::ffi::OsStr;
use std::io;
use std::os::windows::ffi::OsStrExt;
use std::ptr::{null, null_mut};

use windows_sys::Win32::Foundation::{ERROR_FILE_NOT_FOUND, ERROR_SUCCESS, WIN32_ERROR};
use windows_sys::Win32::System::Console::{CTRL_BREAK_EVENT, CTRL_C_EVENT, SetConsoleCtrlHandler};
use windows_sys::Win32::System::Registry::{
    HKEY_CURRENT_USER, REG_SZ, RRF_RT_REG_SZ, RegDeleteKeyValueW, RegGetValueW, RegSetKeyValueW,
};
use windows_sys::Win32::UI::Shell::ShellExecuteW;
use windows_sys::Win32::UI::WindowsAndMessaging::SW_SHOWNORMAL;

/// The per-user key whose values Windows runs at login.
pub const RUN_KEY: &str = r"Software\Microsoft\Windows\CurrentVersion\Run";

/// `text` as a NUL-terminated wide string, for the W calls.
pub(crate) fn wide(text: impl AsRef<OsStr>) -> Vec<u16> {
    text.as_ref()
        .encode_wide()
        .chain(std::iter::once(0))
        .collect()
}

fn checked(code: WIN32_ERROR) -> io::Result<()> {
    if code == ERROR_SUCCESS {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(code as i32))
    }
}

/// The value `name` of the `Run` key: `None` when there is none.
pub fn run_value(name: &str) -> io::Result<Option<String>> {
    let (key, name) = (wide(RUN_KEY), wide(name));
    // Into `data` (null: its size only), `bytes` its size in bytes, in and out.
    let get = |data: *mut u16, bytes: &mut u32| -> io::Result<bool> {
        // SAFETY: both strings are NUL-terminated; `data` is null or holds `*bytes` writable
        // bytes.
        let code = unsafe {
            RegGetValueW(
                HKEY_CURRENT_USER,
                key.as_ptr(),
                name.as_ptr(),
                RRF_RT_REG_SZ,
                null_mut(),
                data.cast(),
                bytes,
            )
        };
        if code == ERROR_FILE_NOT_FOUND {
            return Ok(false);
        }
        checked(code).map(|()| true)
    };
    let mut bytes = 0u32;
    if !get(null_mut(), &mut bytes)? {
        return Ok(None);
    }
    let mut data = vec![0u16; (bytes as usize).div_ceil(2)];
    if !get(data.as_mut_ptr(), &mut bytes)? {
        return Ok(None);
    }
    let len = data.iter().position(|&c| c == 0).unwrap_or(data.len());
    Ok(Some(String::from_utf16_lossy(&data[..len])))
}

/// Sets the value `name` of the `Run` key to `command` (a command line).
pub fn set_run_value(name: &str, command: &str) -> io::Result<()> {
    let (key, name, data) = (wide(RUN_KEY), wide(name), wide(command));
    let bytes =
        u32::try_from(data.len() * 2).map_err(|_| io::Error::other("a command line over 4 GiB"))?;
    // SAFETY: the strings are NUL-terminated and `data` holds `bytes` readable bytes.
    checked(unsafe {
        RegSetKeyValueW(
            HKEY_CURRENT_USER,
            key.as_ptr(),
            name.as_ptr(),
            REG_SZ,
            data.as_ptr().cast(),
            bytes,
        )
    })
}

/// Removes the value `name` of the `Run` key (nothing to do when there is none).
pub fn delete_run_value(name: &str) -> io::Result<()> {
    let (key, name) = (wide(RUN_KEY), wide(name));
    // SAFETY: both strings are NUL-terminated.
    match unsafe { RegDeleteKeyValueW(HKEY_CURRENT_USER, key.as_ptr(), name.as_ptr()) } {
        ERROR_FILE_NOT_FOUND => Ok(()),
        code => checked(code),
    }
}

/// Opens `url` with the shell's handler for its scheme (the default browser for https).
pub fn shell_open(url: &str) -> io::Result<()> {
    let (verb, file) = (wide("open"), wide(url));
    // SAFETY: the strings are NUL-terminated; no window, parameters or directory.
    let result = unsafe {
        ShellExecuteW(
            null_mut(),
            verb.as_ptr(),
            file.as_ptr(),
            null(),
            null(),
            SW_SHOWNORMAL,
        )
    };
    // Above 32 is success; the rest are the old SE_ERR_* codes.
    if result as usize > 32 {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "the shell could not open it (ShellExecute error {})",
            result as usize
        )))
    }
}

/// Ctrl-C and Ctrl-Break reach every process of the console: `exec`'s command gets them and
/// decides, while credtray (which this makes ignore them) waits for it and returns its exit
/// code, as a shell does. A handler, not `SetConsoleCtrlHandler(NULL, TRUE)`: that would be
/// inherited, and the command could not be interrupted.
pub fn leave_interrupts_to_the_child() -> io::Result<()> {
    unsafe extern "system" fn handler(event: u32) -> i32 {
        i32::from(event == CTRL_C_EVENT || event == CTRL_BREAK_EVENT)
    }
    // SAFETY: `handler` is a valid handler routine for the life of the process.
    if unsafe { SetConsoleCtrlHandler(Some(handler), 1) } == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_value_is_set_read_and_removed() {
        let name = format!("credtray-test-{}", std::process::id());
        assert_eq!(run_value(&name).unwrap(), None);
        set_run_value(&name, r#""C:\Program Files\credtray\credtray-tray.exe""#).unwrap();
        assert_eq!(
            run_value(&name).unwrap().as_deref(),
            Some(r#""C:\Program Files\credtray\credtray-tray.exe""#)
        );
        delete_run_value(&name).unwrap();
        assert_eq!(run_value(&name).unwrap(), None);
        delete_run_value(&name).unwrap();
    }

    #[test]
    fn an_unknown_scheme_is_an_error_not_a_silence() {
        assert!(shell_open("credtray-no-such-scheme-x:nothing").is_err());
    }
}
