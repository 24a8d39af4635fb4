//! A private X server (Xvfb) with xdotool for windows and keys and ImageMagick's `import`
//! for screenshots; the terminal emulator processes on it.

use super::out_dir;
use crate::common::{require, stop};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A private Xvfb on the first free display from :70 up (one whose lock file names this
/// server), killed on drop.
pub struct Xvfb {
    pub child: Child,
    pub display: String,
}

impl Xvfb {
    pub fn start() -> Xvfb {
        require(&["Xvfb", "xdotool", "import"]);
        for n in 70..140 {
            if Path::new(&format!("/tmp/.X{n}-lock")).exists()
                || Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
            {
                continue;
            }
            let display = format!(":{n}");
            // -wr: a white root window, so nothing outside the terminal is black.
            let Ok(mut child) = Command::new("Xvfb")
                .args([
                    &display,
                    "-screen",
                    "0",
                    "1600x1024x24",
                    "-nolisten",
                    "tcp",
                    "-wr",
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
            else {
                continue;
            };
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // taken: try the next display
                }
                let up = Command::new("xdotool")
                    .arg("getdisplaygeometry")
                    .env("DISPLAY", &display)
                    .stderr(Stdio::null())
                    .output()
                    .is_ok_and(|o| o.status.success());
                // Up, and ours: a test starting beside this one may have won the same
                // display, and then its server answers while ours is on its way out.
                let ours = std::fs::read_to_string(format!("/tmp/.X{n}-lock"))
                    .is_ok_and(|pid| pid.trim().parse::<u32>().ok() == Some(child.id()));
                if up && ours {
                    return Xvfb { child, display };
                }
                if up {
                    break; // another server's: try the next display
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            stop(&mut child);
        }
        panic!("no free X display from :70 to :139 for Xvfb");
    }
    pub fn xdotool(&self, args: &[&str]) -> String {
        let out = Command::new("xdotool")
            .args(args)
            .env("DISPLAY", &self.display)
            .output()
            .expect("xdotool runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    /// The top-level window of process `pid`, waiting up to `secs` for it to be mapped.
    pub fn window_of(&self, pid: u32, secs: u64) -> Option<String> {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(secs) {
            let out = self.xdotool(&["search", "--onlyvisible", "--pid", &pid.to_string()]);
            if let Some(w) = out.lines().next() {
                return Some(w.trim().to_string());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        None
    }
    /// (x, y, width, height) of a window in screen pixels.
    pub fn geometry(&self, win: &str) -> (u32, u32, u32, u32) {
        let out = self.xdotool(&["getwindowgeometry", "--shell", win]);
        let get = |k: &str| {
            out.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("no {k} in xdotool's answer: {out}"))
        };
        (get("X"), get("Y"), get("WIDTH"), get("HEIGHT"))
    }
    /// Focuses the window and types `keys` (xdotool key names) through XTEST.
    pub fn keys(&self, win: &str, keys: &[&str]) {
        self.xdotool(&["windowfocus", "--sync", win]);
        let mut args = vec!["key", "--delay", "50"];
        args.extend_from_slice(keys);
        self.xdotool(&args);
    }
    /// A screenshot of the whole screen, saved as `target/tui-terminals/{name}.png`.
    pub fn shot(&self, name: &str) -> (PathBuf, image::RgbImage) {
        let path = out_dir().join(format!("{name}.png"));
        let out = Command::new("import")
            .args(["-window", "root"])
            .arg(&path)
            .env("DISPLAY", &self.display)
            .output()
            .expect("import runs");
        assert!(
            out.status.success(),
            "import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let img = image::open(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
            .to_rgb8();
        (path, img)
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// A terminal emulator process; stopped (with the workbench in it) on drop.
pub struct Terminal {
    pub child: Child,
}

impl Drop for Terminal {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}
