//! Embeds an rpath to libtorch so that the binaries start without LD_LIBRARY_PATH, and
//! compiles the small C++ shim that switches libtorch's CPU autocast (tch binds only the
//! CUDA one) against the installed libtorch's headers.
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/model/autocast.cpp");
    let Ok(dir) = std::env::var("LIBTORCH") else {
        panic!(
            "LIBTORCH is not set: run `make` (or scripts/setup-libtorch.sh and export \
             LIBTORCH=$PWD/.libtorch/torch)"
        );
    };
    let mut root = PathBuf::from(dir);
    if root.is_relative() {
        if let Ok(manifest) = std::env::var("CARGO_MANIFEST_DIR") {
            root = PathBuf::from(manifest).join(root);
        }
    }
    let lib = root.join("lib");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    let include = root.join("include");
    cc::Build::new()
        .cpp(true)
        .std("c++20")
        .file("src/model/autocast.cpp")
        .include(&include)
        .include(include.join("torch/csrc/api/include"))
        .define("_GLIBCXX_USE_CXX11_ABI", "1")
        .flag_if_supported("-w")
        .compile("diffscope_autocast");
    println!("cargo:rustc-link-search=native={}", lib.display());
    println!("cargo:rustc-link-lib=dylib=torch_cpu");
    println!("cargo:rustc-link-lib=dylib=c10");
}
