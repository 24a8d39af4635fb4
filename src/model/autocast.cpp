// libtorch's autocast switch for any device. tch binds only the CUDA one; the CPU's
// (bfloat16 on CPUs) is set here. Autocast state is per thread, like in PyTorch.
#include <ATen/autocast_mode.h>

namespace {
at::DeviceType device_of(int device) { return device == 1 ? at::kCUDA : at::kCPU; }
}  // namespace

extern "C" {

// Enters an autocast region on `device` (0: CPU, 1: CUDA) computing in `dtype`
// (0: bfloat16, 1: float16). Returns the previous state for `diffscope_autocast_exit`:
// bit 0 enabled, the rest the previous dtype's code.
int diffscope_autocast_enter(int device, int dtype) {
  at::DeviceType d = device_of(device);
  int previous = at::autocast::is_autocast_enabled(d) ? 1 : 0;
  previous |= static_cast<int>(at::autocast::get_autocast_dtype(d)) << 1;
  at::autocast::increment_nesting();
  at::autocast::set_autocast_enabled(d, true);
  at::autocast::set_autocast_dtype(d, dtype == 1 ? at::kHalf : at::kBFloat16);
  return previous;
}

// Leaves the region entered by the matching `diffscope_autocast_enter`; the casts of the
// weights that autocast cached are dropped when the outermost region ends (as
// torch.autocast does).
void diffscope_autocast_exit(int device, int previous) {
  at::DeviceType d = device_of(device);
  if (at::autocast::decrement_nesting() == 0) {
    at::autocast::clear_cache();
  }
  at::autocast::set_autocast_enabled(d, (previous & 1) != 0);
  at::autocast::set_autocast_dtype(d, static_cast<at::ScalarType>(previous >> 1));
}

// Whether autocast is on for `device` on this thread.
int diffscope_autocast_enabled(int device) {
  return at::autocast::is_autocast_enabled(device_of(device)) ? 1 : 0;
}
}
