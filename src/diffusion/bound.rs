//! Pieces of the variational bound that the samplers and the training loop share.
//! (The full bits/dim evaluation builds on these.)

use tch::Tensor;

/// KL(N(m1, e^{lv1}) ‖ N(m2, e^{lv2})) elementwise, in nats.
pub fn normal_kl(mean1: &Tensor, logvar1: &Tensor, mean2: &Tensor, logvar2: &Tensor) -> Tensor {
    ((logvar2 - logvar1) + (logvar1 - logvar2).exp() + (mean1 - mean2).square() * (-logvar2).exp()
        - 1.0)
        * 0.5
}
