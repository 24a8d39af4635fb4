//! The worker's messages between processes: the same [`Command`]s and [`Event`]s as
//! between threads, over the run folder's Unix socket.
//!
//! A frame is a 4-byte little-endian length and a [postcard] body. Binary, because an
//! event can carry megabytes of f32 (a batch of samples with a hundred reverse frames):
//! postcard keeps every value bit-exact, costs no parsing time and frames nothing it does
//! not need to; its wire format is fixed since 1.0.

use super::protocol::{Command, Event};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;

/// No honest frame comes near this (a 1000-item trajectory of 28×28 images is ~600 MB
/// only at absurd settings): a larger length is a stream gone wrong.
const MAX_FRAME: usize = 1 << 30;

/// What a front end asks for when it connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Want {
    /// Control the run, unless another front end does.
    #[default]
    Control,
    /// Watch it read-only.
    Watch,
    /// Control it, taking over from whoever does (they become watchers).
    TakeOver,
}

/// From a front end to the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum ClientMsg {
    Hello { want: Want },
    Command(Command),
}

/// From the worker to a front end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum ServerMsg {
    /// Connected; `control`: this front end's commands are obeyed. The run's state
    /// follows as events.
    Welcome {
        control: bool,
    },
    /// Another front end (process `pid`) controls the run: say `Watch` or `TakeOver`.
    Busy {
        pid: u32,
    },
    Event(Event),
    /// Another front end took over control: this one now watches.
    ControlLost,
}

/// Writes one frame.
pub(crate) fn write_frame<T: Serialize>(w: &mut impl Write, msg: &T) -> io::Result<()> {
    let body = postcard::to_stdvec(msg).map_err(io::Error::other)?;
    let len = u32::try_from(body.len()).map_err(|_| io::Error::other("frame too large"))?;
    let mut buf = Vec::with_capacity(4 + body.len());
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(&body);
    w.write_all(&buf)?;
    w.flush()
}

/// Reads one frame; None at a clean end of the stream (between frames).
pub(crate) fn read_frame<T: DeserializeOwned>(r: &mut impl Read) -> io::Result<Option<T>> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut len[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a frame of {len} bytes"),
        ));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    postcard::from_bytes(&body)
        .map(Some)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// The user id of the process at the other end of a Unix socket, and its pid where the
/// system tells it (0 otherwise).
pub fn peer(stream: &UnixStream) -> io::Result<(u32, u32)> {
    use std::os::fd::AsRawFd;
    let fd = stream.as_raw_fd();
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let mut cred = libc::ucred {
            pid: 0,
            uid: 0,
            gid: 0,
        };
        let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into `cred`.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_PEERCRED,
                (&mut cred as *mut libc::ucred).cast(),
                &mut len,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((cred.uid, cred.pid.max(0) as u32))
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let mut uid: libc::uid_t = 0;
        let mut gid: libc::gid_t = 0;
        // SAFETY: getpeereid writes two integers.
        let rc = unsafe { libc::getpeereid(fd, &mut uid, &mut gid) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((uid, 0))
    }
}

/// This process's user id.
pub(crate) fn my_uid() -> u32 {
    // SAFETY: getuid cannot fail.
    unsafe { libc::getuid() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::worker::protocol::{Failure, Samples};

    #[test]
    fn frames_round_trip_bit_exact() {
        let samples = Event::Samples(Samples {
            id: 3,
            step: 7,
            ema: true,
            shape: vec![2, 1, 2, 2],
            values: vec![0.1, -0.0, f32::MIN_POSITIVE, 1e-30, 3.5, -2.25, 7.0, 0.3],
            frame_timesteps: vec![1000, 1],
            frames_xt: vec![vec![1.0; 8], vec![2.0; 8]],
            frames_x0: vec![vec![0.5; 8], vec![0.25; 8]],
            trace: Box::new(crate::worker::protocol::FrameTrace {
                options: crate::diffusion::SampleOptions {
                    sampler: crate::diffusion::SamplerKind::Dpmpp2m,
                    steps: 20,
                    karras: true,
                    ..Default::default()
                },
                steps: vec![0, 19],
                of: 20,
                sigmas: vec![157.4, 0.0100503],
                variances: vec![
                    Some(crate::diffusion::sampler::StepVariance {
                        mean: 0.25,
                        beta_tilde: 0.125,
                        beta: 0.5,
                    }),
                    None,
                ],
                x0_guided: vec![Some([vec![0.75; 8], vec![-0.125; 8]]), None],
            }),
        });
        let msgs = vec![
            ServerMsg::Welcome { control: true },
            ServerMsg::Event(samples),
            ServerMsg::Event(Event::Failed {
                what: Failure::Save,
                message: "disk full".into(),
            }),
        ];
        let mut buf = Vec::new();
        for m in &msgs {
            write_frame(&mut buf, m).unwrap();
        }
        let mut r = &buf[..];
        for m in &msgs {
            let back: ServerMsg = read_frame(&mut r).unwrap().unwrap();
            assert_eq!(&back, m);
        }
        assert!(read_frame::<ServerMsg>(&mut r).unwrap().is_none());
    }

    #[test]
    fn cut_and_oversized_frames_are_errors() {
        let mut buf = Vec::new();
        write_frame(&mut buf, &ClientMsg::Hello { want: Want::Watch }).unwrap();
        let cut = &buf[..buf.len() - 1];
        assert!(read_frame::<ClientMsg>(&mut &cut[..]).is_err());
        let huge = (u32::MAX).to_le_bytes();
        assert!(read_frame::<ClientMsg>(&mut &huge[..]).is_err());
        let garbage = [3u8, 0, 0, 0, 0xff, 0xff, 0xff];
        assert!(read_frame::<ClientMsg>(&mut &garbage[..]).is_err());
    }

    #[test]
    fn the_peer_is_this_user() {
        let (a, _b) = UnixStream::pair().unwrap();
        let (uid, pid) = peer(&a).unwrap();
        assert_eq!(uid, my_uid());
        assert_eq!(pid, std::process::id());
    }
}
