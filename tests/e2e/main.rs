mod disk_full;
mod runs;
mod terminals;
mod workbench;
