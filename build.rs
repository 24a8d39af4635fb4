//! Embeds an rpath to libtorch so that the binaries start without LD_LIBRARY_PATH.
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-changed=build.rs");
    if let Ok(dir) = std::env::var("LIBTORCH") {
        let mut lib = PathBuf::from(dir);
        if lib.is_relative() {
            if let Ok(root) = std::env::var("CARGO_MANIFEST_DIR") {
                lib = PathBuf::from(root).join(lib);
            }
        }
        let lib = lib.join("lib");
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    }
}
