//! The agent's place on Windows: a named pipe, `\\.\pipe\credtray-<user SID>-<hash>`, where
//! the hash is of the agent's directory (`%LOCALAPPDATA%\credtray`), so each user — and each
//! test environment — has its own. The agent holds `<pipe name>.lock` in that directory (one
//! agent at a time, and the pid of the one that holds it), and makes the pipe:
//! - with `FILE_FLAG_FIRST_PIPE_INSTANCE`, so it never joins a pipe another process made
//!   first under its name (that is [`Error::Taken`]);
//! - with a protected DACL granting the user's SID alone (no one else can open it or add an
//!   instance of their own);
//! - with `PIPE_REJECT_REMOTE_CLIENTS` (no SMB clients);
//! - in message mode: a request and a reply are each one message, as the module above says.
//!
//! Both ends check the other's identity: the process at the other end of the pipe
//! (`GetNamedPipeClientProcessId`, `GetNamedPipeServerProcessId`) must run with this user's
//! SID in its token, at an integrity level no lower than this process's (a sandboxed
//! low-integrity process of the user's could make the pipe's name first), in the same login
//! session. A client opens the pipe with `SECURITY_IDENTIFICATION`, so even a server it
//! refuses could not act as the client.
//!
//! All I/O is overlapped, so that reads and writes keep the timeouts [`set_timeouts`] gives
//! (a synchronous pipe read has none); every operation is waited for before its buffer and
//! `OVERLAPPED` go out of scope, cancelled first on a timeout.

// The Win32 calls std does not wrap (named pipes, tokens, SIDs, security descriptors): each
// `unsafe` block says why it is sound.
#![allow(unsafe_code)]

use std::cell::Cell;
use std::ffi::OsString;
use std::io;
use std::os::windows::ffi::OsStringExt;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::path::{Path, PathBuf};
use std::ptr::{null, null_mut};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use windows_sys::Win32::Foundation::{
    ERROR_ACCESS_DENIED, ERROR_BROKEN_PIPE, ERROR_IO_PENDING, ERROR_MORE_DATA, ERROR_NO_DATA,
    ERROR_PIPE_BUSY, ERROR_PIPE_CONNECTED, GENERIC_READ, GENERIC_WRITE, HANDLE,
    INVALID_HANDLE_VALUE, LocalFree, WAIT_OBJECT_0,
};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1,
};
use windows_sys::Win32::Security::{
    GetSidSubAuthority, GetSidSubAuthorityCount, GetTokenInformation, PSECURITY_DESCRIPTOR,
    SECURITY_ATTRIBUTES, TOKEN_INFORMATION_CLASS, TOKEN_MANDATORY_LABEL, TOKEN_QUERY, TOKEN_USER,
    TokenIntegrityLevel, TokenUser,
};
use windows_sys::Win32::Storage::FileSystem::{
    CreateFileW, FILE_FLAG_FIRST_PIPE_INSTANCE, FILE_FLAG_OVERLAPPED, OPEN_EXISTING,
    PIPE_ACCESS_DUPLEX, ReadFile, SECURITY_IDENTIFICATION, SECURITY_SQOS_PRESENT, WriteFile,
};
use windows_sys::Win32::System::IO::{CancelIoEx, GetOverlappedResult, OVERLAPPED};
use windows_sys::Win32::System::Pipes::{
    ConnectNamedPipe, CreateNamedPipeW, GetNamedPipeClientProcessId, GetNamedPipeServerProcessId,
    PIPE_READMODE_MESSAGE, PIPE_REJECT_REMOTE_CLIENTS, PIPE_TYPE_MESSAGE, PIPE_UNLIMITED_INSTANCES,
    PIPE_WAIT, SetNamedPipeHandleState, WaitNamedPipeW,
};
use windows_sys::Win32::System::RemoteDesktop::ProcessIdToSessionId;
use windows_sys::Win32::System::Threading::{
    CreateEventW, GetCurrentProcess, INFINITE, OpenProcess, OpenProcessToken,
    PROCESS_QUERY_LIMITED_INFORMATION, WaitForSingleObject,
};

use super::Error;
use crate::win32::wide;

/// The pipe's buffer sizes (advisory): a reply is at most `MAX_MESSAGE` and usually far less.
const BUFFER: u32 = 64 * 1024;

/// The agent's directory: `%LOCALAPPDATA%\credtray` (its lock lives there).
pub fn dir() -> PathBuf {
    std::env::var_os("LOCALAPPDATA")
        .filter(|d| !d.is_empty())
        .map_or_else(std::env::temp_dir, PathBuf::from)
        .join("credtray")
}

/// The agent's pipe: `\\.\pipe\credtray-<user SID>-<hash of its directory>`.
pub fn path() -> PathBuf {
    let place = dir().to_string_lossy().to_lowercase();
    let hash = crate::sha256_hex(place.as_bytes(), 6);
    let sid = my_sid().unwrap_or("unknown-user");
    PathBuf::from(format!(r"\\.\pipe\credtray-{sid}-{hash}"))
}

/// This process's user, as a SID string (`S-1-5-21-…`), read once.
pub fn my_sid() -> Result<&'static str, &'static str> {
    my_identity().map(|me| me.sid.as_str())
}

/// Where the pipe is can't be made by anyone else (the DACL and the first-instance flag see
/// to it); the peer check is what a client holds the agent to.
pub fn untrusted_place(_: &Path) -> io::Result<Option<String>> {
    Ok(None)
}

fn last_error() -> io::Error {
    io::Error::last_os_error()
}

fn is(e: &io::Error, code: u32) -> bool {
    e.raw_os_error() == i32::try_from(code).ok()
}

/// Takes ownership of a handle a Win32 call returned, or its error.
fn owned(handle: HANDLE) -> io::Result<OwnedHandle> {
    if handle.is_null() || handle == INVALID_HANDLE_VALUE {
        return Err(last_error());
    }
    // SAFETY: the handle was just returned open by a Win32 call, and nothing else owns it.
    Ok(unsafe { OwnedHandle::from_raw_handle(handle) })
}

/// Who a process is, as far as the agent cares: its user, how far it is trusted (its mandatory
/// integrity level's RID: 0x1000 low, 0x2000 medium, 0x3000 high) and its login session.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    sid: String,
    integrity: u32,
    session: u32,
}

/// One piece of information of an open `token`, in a buffer of u64s (so that the structure at
/// its start is aligned).
fn token_information(token: HANDLE, class: TOKEN_INFORMATION_CLASS) -> io::Result<Vec<u64>> {
    let mut len = 0u32;
    // SAFETY: a null buffer of length 0 asks for the size only; `len` is valid for writes.
    unsafe { GetTokenInformation(token, class, null_mut(), 0, &raw mut len) };
    if len == 0 {
        return Err(last_error());
    }
    let mut buffer = vec![0u64; (len as usize).div_ceil(8)];
    // SAFETY: `buffer` holds at least `len` writable bytes.
    let ok =
        unsafe { GetTokenInformation(token, class, buffer.as_mut_ptr().cast(), len, &raw mut len) };
    if ok == 0 {
        return Err(last_error());
    }
    Ok(buffer)
}

/// The identity of the process `process` (a handle with query access) whose id is `pid`.
fn process_identity(process: HANDLE, pid: u32) -> io::Result<Identity> {
    let mut token = null_mut();
    // SAFETY: `process` is a valid process handle and `token` is valid for writes.
    if unsafe { OpenProcessToken(process, TOKEN_QUERY, &raw mut token) } == 0 {
        return Err(last_error());
    }
    let token = owned(token)?;
    let user = token_information(token.as_raw_handle(), TokenUser)?;
    // SAFETY: GetTokenInformation wrote a TOKEN_USER at the start of the (aligned) buffer,
    // whose SID pointer points into the same buffer, alive until `user` is dropped.
    let sid = unsafe { (*user.as_ptr().cast::<TOKEN_USER>()).User.Sid };
    let mut text = null_mut();
    // SAFETY: `sid` is a valid SID (above); `text` is valid for writes.
    if unsafe { ConvertSidToStringSidW(sid, &raw mut text) } == 0 {
        return Err(last_error());
    }
    // SAFETY: ConvertSidToStringSidW returned a NUL-terminated wide string it allocated with
    // LocalAlloc: read up to the NUL, then freed once.
    let sid = unsafe {
        let len = (0..).take_while(|&i| *text.add(i) != 0).count();
        let sid = OsString::from_wide(std::slice::from_raw_parts(text, len));
        LocalFree(text.cast());
        sid
    };
    let label = token_information(token.as_raw_handle(), TokenIntegrityLevel)?;
    // SAFETY: GetTokenInformation wrote a TOKEN_MANDATORY_LABEL at the start of the aligned
    // buffer; its SID points into the buffer; a label SID has at least one sub-authority, the
    // last being the level's RID.
    let integrity = unsafe {
        let label = (*label.as_ptr().cast::<TOKEN_MANDATORY_LABEL>()).Label.Sid;
        let count = *GetSidSubAuthorityCount(label);
        if count == 0 {
            return Err(io::Error::other("an integrity label without a level"));
        }
        *GetSidSubAuthority(label, u32::from(count) - 1)
    };
    let mut session = 0u32;
    // SAFETY: `session` is valid for writes; any pid may be asked about.
    if unsafe { ProcessIdToSessionId(pid, &raw mut session) } == 0 {
        return Err(last_error());
    }
    Ok(Identity {
        sid: sid.to_string_lossy().into_owned(),
        integrity,
        session,
    })
}

/// This process's identity, read once.
fn my_identity() -> Result<&'static Identity, &'static str> {
    static MINE: OnceLock<Result<Identity, String>> = OnceLock::new();
    MINE.get_or_init(|| {
        // SAFETY: GetCurrentProcess returns a pseudo-handle, valid for this process, that
        // needs no closing.
        process_identity(unsafe { GetCurrentProcess() }, std::process::id()).map_err(|e| {
            tracing::warn!(error = %e, "could not read this process's user SID");
            e.to_string()
        })
    })
    .as_ref()
    .map_err(|_| "unknown")
}

/// The identity of the process with id `pid`.
fn pid_identity(pid: u32) -> io::Result<Identity> {
    // SAFETY: OpenProcess takes any pid; a failure is a null handle (checked by `owned`).
    let process = owned(unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) })?;
    process_identity(process.as_raw_handle(), pid)
}

/// A security descriptor (from SDDL) that LocalFree releases.
struct Descriptor(PSECURITY_DESCRIPTOR);

impl Descriptor {
    /// A protected DACL granting this user alone all access (so no one else opens the pipe or
    /// makes an instance of it).
    fn only_me() -> io::Result<Self> {
        let sid = my_sid().map_err(|why| io::Error::other(format!("this user's SID is {why}")))?;
        let sddl = wide(format!("D:P(A;;GA;;;{sid})"));
        let mut descriptor = null_mut();
        // SAFETY: `sddl` is NUL-terminated; `descriptor` is valid for writes; the size out
        // pointer may be null.
        let ok = unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                sddl.as_ptr(),
                SDDL_REVISION_1,
                &raw mut descriptor,
                null_mut(),
            )
        };
        if ok == 0 {
            return Err(last_error());
        }
        Ok(Self(descriptor))
    }
}

impl Drop for Descriptor {
    fn drop(&mut self) {
        // SAFETY: the descriptor was LocalAlloc'ed by the conversion above, freed only here.
        unsafe { LocalFree(self.0) };
    }
}

/// A new server instance of the pipe `name` (NUL-terminated), waiting for a client.
fn instance(name: &[u16], first: bool) -> io::Result<OwnedHandle> {
    let descriptor = Descriptor::only_me()?;
    let attributes = SECURITY_ATTRIBUTES {
        nLength: u32::try_from(std::mem::size_of::<SECURITY_ATTRIBUTES>()).unwrap_or(u32::MAX),
        lpSecurityDescriptor: descriptor.0,
        bInheritHandle: 0,
    };
    let mut open_mode = PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED;
    if first {
        open_mode |= FILE_FLAG_FIRST_PIPE_INSTANCE;
    }
    // SAFETY: `name` is NUL-terminated and `attributes` (with its descriptor) outlives the call.
    owned(unsafe {
        CreateNamedPipeW(
            name.as_ptr(),
            open_mode,
            PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
            PIPE_UNLIMITED_INSTANCES,
            BUFFER,
            BUFFER,
            0,
            &raw const attributes,
        )
    })
}

/// A connection to or from the agent over its pipe. Each `write` is one message, so a request
/// or a reply is written whole, in one call (`write_all` of one buffer); a read ends (returns
/// 0) once one whole message has been read.
pub struct Stream {
    pipe: OwnedHandle,
    /// The event overlapped operations signal.
    event: OwnedHandle,
    server: bool,
    read_timeout: Cell<Option<Duration>>,
    write_timeout: Cell<Option<Duration>>,
    message_read: bool,
}

impl Stream {
    fn new(pipe: OwnedHandle, server: bool) -> io::Result<Self> {
        // SAFETY: no attributes or name; a manual-reset event, initially not signalled.
        let event = owned(unsafe { CreateEventW(null(), 1, 0, null()) })?;
        Ok(Self {
            pipe,
            event,
            server,
            read_timeout: Cell::new(None),
            write_timeout: Cell::new(None),
            message_read: false,
        })
    }

    /// Runs one overlapped operation that `start` begins with the `OVERLAPPED` it is given,
    /// and waits for it (at most `timeout`, after which it is cancelled): the bytes it moved,
    /// and whether a message read goes on (`ERROR_MORE_DATA`).
    fn overlapped(
        &self,
        timeout: Option<Duration>,
        start: impl FnOnce(*mut OVERLAPPED) -> i32,
    ) -> io::Result<(usize, bool)> {
        let pipe = self.pipe.as_raw_handle();
        // SAFETY: OVERLAPPED is plain data, all zeros is its initial state.
        let mut overlapped: OVERLAPPED = unsafe { std::mem::zeroed() };
        overlapped.hEvent = self.event.as_raw_handle();
        let started = start(&raw mut overlapped);
        let mut timed_out = false;
        if started == 0 {
            let e = last_error();
            if !is(&e, ERROR_IO_PENDING) && !is(&e, ERROR_MORE_DATA) {
                return Err(e);
            }
            if is(&e, ERROR_IO_PENDING) {
                let millis = timeout.map_or(INFINITE, |t| {
                    u32::try_from(t.as_millis()).unwrap_or(INFINITE - 1)
                });
                // SAFETY: the event is a valid handle this stream owns.
                if unsafe { WaitForSingleObject(self.event.as_raw_handle(), millis) }
                    != WAIT_OBJECT_0
                {
                    timed_out = true;
                    // SAFETY: cancels this very operation; it is waited for below before
                    // `overlapped` and the caller's buffer go out of scope.
                    unsafe { CancelIoEx(pipe, &raw const overlapped) };
                }
            }
        }
        let mut moved = 0u32;
        // SAFETY: waits (bWait = TRUE) for the operation started on `overlapped` to complete,
        // or to finish cancelling; `moved` is valid for writes.
        let ok = unsafe { GetOverlappedResult(pipe, &raw const overlapped, &raw mut moved, 1) };
        let moved = moved as usize;
        if ok != 0 {
            return Ok((moved, false));
        }
        let e = last_error();
        if is(&e, ERROR_MORE_DATA) {
            Ok((moved, true))
        } else if timed_out {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the other end of the agent's pipe did not answer in time",
            ))
        } else {
            Err(e)
        }
    }

    /// The id of the process at the other end.
    fn peer_pid(&self) -> io::Result<u32> {
        let mut pid = 0u32;
        let pipe = self.pipe.as_raw_handle();
        // SAFETY: `pipe` is an open pipe handle and `pid` is valid for writes.
        let ok = unsafe {
            if self.server {
                GetNamedPipeClientProcessId(pipe, &raw mut pid)
            } else {
                GetNamedPipeServerProcessId(pipe, &raw mut pid)
            }
        };
        if ok == 0 { Err(last_error()) } else { Ok(pid) }
    }
}

impl io::Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.message_read || buf.is_empty() {
            return Ok(0);
        }
        let len = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        let pipe = self.pipe.as_raw_handle();
        let data = buf.as_mut_ptr();
        // SAFETY: `data` is valid for `len` bytes of writes until the operation completes,
        // which `overlapped` waits for.
        let read = self.overlapped(self.read_timeout.get(), |overlapped| unsafe {
            ReadFile(pipe, data, len, null_mut(), overlapped)
        });
        match read {
            Ok((n, more)) => {
                self.message_read = !more;
                Ok(n)
            }
            // The other end closed: nothing more comes.
            Err(e) if is(&e, ERROR_BROKEN_PIPE) => {
                self.message_read = true;
                Ok(0)
            }
            Err(e) => Err(e),
        }
    }
}

impl io::Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let len = u32::try_from(buf.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a message over 4 GiB"))?;
        let pipe = self.pipe.as_raw_handle();
        let data = buf.as_ptr();
        // SAFETY: `data` is valid for `len` bytes of reads until the operation completes,
        // which `overlapped` waits for.
        let (n, _) = self.overlapped(self.write_timeout.get(), |overlapped| unsafe {
            WriteFile(pipe, data, len, null_mut(), overlapped)
        })?;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Why the process at the other end of `stream` may not be talked to (another user's), or
/// `Ok` when it is this user's.
pub fn check_peer(stream: &Stream) -> io::Result<Result<(), String>> {
    let pid = stream.peer_pid()?;
    let theirs = pid_identity(pid)?;
    let mine = my_identity()
        .map_err(|why| io::Error::other(format!("this process's identity is {why}")))?;
    Ok(peer_allowed(&theirs, mine).map_err(|why| format!("{why} (process {pid})")))
}

/// Whether a peer may be talked to: the same user, trusted at least as much as this process
/// (a sandboxed low-integrity process of the user's could make the pipe's name first), in the
/// same login session (another session of the user's, over RDP say, has its own agent).
fn peer_allowed(theirs: &Identity, mine: &Identity) -> Result<(), String> {
    if theirs.sid != mine.sid {
        Err(format!("runs as {}, not as you ({})", theirs.sid, mine.sid))
    } else if theirs.integrity < mine.integrity {
        Err(format!(
            "runs at integrity level {:#x}, below this process's {:#x}",
            theirs.integrity, mine.integrity
        ))
    } else if theirs.session != mine.session {
        Err(format!(
            "runs in login session {}, not in this one ({})",
            theirs.session, mine.session
        ))
    } else {
        Ok(())
    }
}

/// Connects to the agent's pipe `path` (`NotFound` when no agent serves it). A pipe whose
/// instances are all busy is waited for, a few seconds at most.
pub fn connect(path: &Path) -> io::Result<Stream> {
    let name = wide(path.as_os_str());
    let mut tries = 0;
    let pipe = loop {
        // SAFETY: `name` is NUL-terminated; no security attributes, no template.
        let opened = owned(unsafe {
            CreateFileW(
                name.as_ptr(),
                GENERIC_READ | GENERIC_WRITE,
                0,
                null(),
                OPEN_EXISTING,
                FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION,
                null_mut(),
            )
        });
        match opened {
            Ok(pipe) => break pipe,
            Err(e) if is(&e, ERROR_PIPE_BUSY) && tries < 10 => {
                tries += 1;
                // SAFETY: `name` is NUL-terminated. A timeout or a vanished pipe shows in the
                // next CreateFileW.
                unsafe { WaitNamedPipeW(name.as_ptr(), 500) };
            }
            Err(e) => return Err(e),
        }
    };
    let mode = PIPE_READMODE_MESSAGE;
    // SAFETY: `pipe` is an open pipe handle; `mode` outlives the call; the other two may be null.
    if unsafe { SetNamedPipeHandleState(pipe.as_raw_handle(), &raw const mode, null(), null()) }
        == 0
    {
        return Err(last_error());
    }
    Stream::new(pipe, false)
}

/// How long reads and writes on `stream` may wait.
pub fn set_timeouts(stream: &Stream, read: Duration, write: Duration) -> io::Result<()> {
    stream.read_timeout.set(Some(read));
    stream.write_timeout.set(Some(write));
    Ok(())
}

/// The request is whole already: it was one message.
pub fn end_request(_: &Stream) -> io::Result<()> {
    Ok(())
}

/// The agent's place: its lock held, the next instance of its pipe waiting for a client.
pub struct Bound {
    pub path: PathBuf,
    name: Vec<u16>,
    next: Mutex<Option<OwnedHandle>>,
    _lock: std::fs::File,
}

impl Bound {
    /// The next connection. A new instance waits for the one after before this one is handed
    /// on, so a client nearly always finds one listening (and waits briefly when not).
    pub fn accept(&self) -> io::Result<Stream> {
        let waiting = self
            .next
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let pipe = match waiting {
            Some(pipe) => pipe,
            None => instance(&self.name, false)?,
        };
        let stream = Stream::new(pipe, true)?;
        let handle = stream.pipe.as_raw_handle();
        // SAFETY: `handle` is the stream's open pipe; `overlapped` waits for the operation.
        let connected = stream.overlapped(None, |overlapped| unsafe {
            ConnectNamedPipe(handle, overlapped)
        });
        // The next instance before this one is handed on or dropped, so that the pipe's name
        // never lapses (a client meanwhile would think no agent runs).
        match instance(&self.name, false) {
            Ok(next) => *self.next.lock().unwrap_or_else(PoisonError::into_inner) = Some(next),
            Err(e) => tracing::warn!(error = %e, "could not make the agent pipe's next instance"),
        }
        match connected {
            Ok(_) => Ok(stream),
            // A client came between the instance's making and this call, or came and went
            // already (its reads then end at once): either way a connection to hand on, as the
            // wake-up of an agent handing over is.
            Err(e) if is(&e, ERROR_PIPE_CONNECTED) || is(&e, ERROR_NO_DATA) => Ok(stream),
            Err(e) => Err(e),
        }
    }
}

/// Takes the agent's lock and makes its pipe `path`. A live agent holding the lock is named in
/// the error; a pipe of that name made by anyone else is [`Error::Taken`].
pub fn bind(path: &Path, who_holds: impl Fn() -> Option<(u32, bool)>) -> Result<Bound, Error> {
    let dir = dir();
    std::fs::create_dir_all(&dir).map_err(|cause| Error::Io {
        path: dir.clone(),
        cause,
    })?;
    let base = path
        .file_name()
        .map_or_else(|| "agent".into(), |n| n.to_string_lossy().into_owned());
    let lock_path = dir.join(format!("{base}.lock"));
    let lock = super::take_lock(&lock_path, who_holds)?;
    let name = wide(path.as_os_str());
    // An agent that just handed over may keep an instance open a moment after its lock went
    // (a conversation ending): its name is taken only if it stays so.
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    let first = loop {
        match instance(&name, true) {
            Ok(first) => break first,
            Err(e) if is(&e, ERROR_ACCESS_DENIED) && std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) if is(&e, ERROR_ACCESS_DENIED) => {
                return Err(Error::Taken {
                    path: path.to_owned(),
                });
            }
            Err(cause) => {
                return Err(Error::Io {
                    path: path.to_owned(),
                    cause,
                });
            }
        }
    };
    Ok(Bound {
        path: path.to_owned(),
        name,
        next: Mutex::new(Some(first)),
        _lock: lock,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn unique_pipe() -> PathBuf {
        static COUNT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        PathBuf::from(format!(
            r"\\.\pipe\credtray-test-{}-{n}",
            std::process::id()
        ))
    }

    #[test]
    fn a_peer_of_another_user_a_lower_integrity_or_another_session_is_refused() {
        let me = my_identity().unwrap().clone();
        assert!(me.integrity >= 0x1000, "{me:?}");
        assert_eq!(peer_allowed(&me, &me), Ok(()));
        let higher = Identity {
            integrity: me.integrity + 0x1000,
            ..me.clone()
        };
        assert_eq!(
            peer_allowed(&higher, &me),
            Ok(()),
            "an elevated client of the user's"
        );
        let other = Identity {
            sid: "S-1-5-21-1-2-3-1001".into(),
            ..me.clone()
        };
        assert!(
            peer_allowed(&other, &me)
                .unwrap_err()
                .contains("not as you")
        );
        let low = Identity {
            integrity: 0x1000,
            ..me.clone()
        };
        if me.integrity > 0x1000 {
            assert!(
                peer_allowed(&low, &me)
                    .unwrap_err()
                    .contains("integrity level 0x1000")
            );
        }
        let elsewhere = Identity {
            session: me.session + 1,
            ..me.clone()
        };
        assert!(
            peer_allowed(&elsewhere, &me)
                .unwrap_err()
                .contains("login session")
        );
    }

    #[test]
    fn the_sid_is_this_users_and_names_the_pipe() {
        let sid = my_sid().unwrap();
        assert!(sid.starts_with("S-1-"), "{sid}");
        let path = path().display().to_string();
        assert!(path.starts_with(r"\\.\pipe\credtray-S-1-"), "{path}");
        assert!(path.contains(sid), "{path}");
    }

    #[test]
    fn a_request_and_its_reply_cross_whole_and_each_end_sees_this_user() {
        let path = unique_pipe();
        let bound = bind(&path, || None).unwrap();
        // A second agent: told who holds the lock.
        let err = bind(&path, || Some((4242, true))).err().unwrap();
        assert!(
            matches!(
                err,
                Error::Running {
                    pid: 4242,
                    tray: true
                }
            ),
            "{err}"
        );
        // Larger than the pipe's buffer, so both ends see a message in parts.
        let request = vec![b'q'; 3 * BUFFER as usize];
        let reply = vec![b'r'; 2 * BUFFER as usize + 17];
        let server = std::thread::spawn({
            let reply = reply.clone();
            move || {
                let mut stream = bound.accept().unwrap();
                assert_eq!(check_peer(&stream).unwrap(), Ok(()));
                set_timeouts(&stream, Duration::from_secs(5), Duration::from_secs(5)).unwrap();
                let mut got = Vec::new();
                stream.read_to_end(&mut got).unwrap();
                stream.write_all(&reply).unwrap();
                got
            }
        });
        let mut client = connect(&path).unwrap();
        assert_eq!(check_peer(&client).unwrap(), Ok(()));
        set_timeouts(&client, Duration::from_secs(5), Duration::from_secs(5)).unwrap();
        client.write_all(&request).unwrap();
        end_request(&client).unwrap();
        let mut got = Vec::new();
        client.read_to_end(&mut got).unwrap();
        assert_eq!(got.len(), reply.len());
        assert_eq!(got, reply);
        assert_eq!(server.join().unwrap(), request);
    }

    #[test]
    fn a_client_that_came_before_the_first_accept_is_answered() {
        let path = unique_pipe();
        let bound = bind(&path, || None).unwrap();
        // Connected and written before the agent waits for anyone (an agent slow to start).
        let mut client = connect(&path).unwrap();
        set_timeouts(&client, Duration::from_secs(5), Duration::from_secs(5)).unwrap();
        client.write_all(b"early").unwrap();
        std::thread::sleep(Duration::from_millis(300));
        std::thread::spawn(move || {
            let mut stream = bound.accept().unwrap();
            let mut got = Vec::new();
            stream.read_to_end(&mut got).unwrap();
            stream.write_all(&got).unwrap();
        });
        let mut got = Vec::new();
        client.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"early");
    }

    #[test]
    fn a_read_with_nothing_coming_times_out() {
        let path = unique_pipe();
        let bound = bind(&path, || None).unwrap();
        let server = std::thread::spawn(move || {
            let stream = bound.accept().unwrap();
            std::thread::sleep(Duration::from_secs(3));
            drop(stream);
        });
        let mut client = connect(&path).unwrap();
        set_timeouts(&client, Duration::from_millis(300), Duration::from_secs(5)).unwrap();
        let started = std::time::Instant::now();
        let err = client.read(&mut [0; 16]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        assert!(started.elapsed() < Duration::from_secs(2));
        server.join().unwrap();
    }

    #[test]
    fn a_pipe_someone_else_made_first_is_not_joined_and_a_missing_one_is_not_found() {
        let path = unique_pipe();
        let name = wide(path.as_os_str());
        let squatter = instance(&name, true).unwrap();
        // Wine 8 ignores FILE_FLAG_FIRST_PIPE_INSTANCE (a second first instance is made): the
        // harness says it runs the tests there, and this check waits for real Windows.
        if std::env::var_os("CREDTRAY_TEST_UNDER_WINE").is_none() {
            let err = bind(&path, || None).err().unwrap();
            assert!(matches!(err, Error::Taken { .. }), "{err}");
        }
        drop(squatter);
        let err = connect(&unique_pipe()).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::NotFound, "{err}");
    }
}
