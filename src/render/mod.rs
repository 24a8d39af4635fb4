//! Pictures written to files: scatter plots for 2-D data (and, later, image grids).

pub mod grid;
pub mod scatter;
