// The reverse-mode engine's entry points (PyTorch's torch.autograd.backward / grad).
#pragma once

#include <vector>

#include "xgrad/autograd/node.hpp"
#include "xgrad/autograd/tensor.hpp"

namespace xgrad::autograd {

/// Computes the sum of d(outputs[i])/d(leaf) * grad_outputs[i] for every leaf reachable
/// from `outputs` and accumulates it (+=) into leaf.grad(). An undefined or missing
/// grad_outputs[i] means ones, allowed only when outputs[i] has one element.
/// The graph is walked iteratively in reverse topological order (no recursion).
/// Throws xgrad::Error: an output that does not require grad, a non-scalar output without a
/// seed, a seed whose shape or dtype differs from its output, backward through a graph freed
/// by an earlier backward (pass retain_graph = true), a node returning the wrong number of
/// gradients or a gradient of the wrong shape, NaN/Inf under DetectAnomalyGuard.
void backward(const std::vector<Tensor>& outputs, const std::vector<Tensor>& grad_outputs = {},
              const BackwardOptions& options = {});

struct GradOptions {
  bool retain_graph = false;
  /// Record the backward so the returned gradients can be differentiated again.
  bool create_graph = false;
  /// Return undefined tensors for inputs the outputs do not depend on, instead of throwing.
  bool allow_unused = false;
};

/// Returns d(sum_i <outputs[i], grad_outputs[i]>)/d(inputs[j]) for each j, without touching
/// any .grad(). Inputs may be leaves or intermediate tensors. Throws as backward() does, and
/// when an input was not used by the outputs (unless allow_unused) or does not require grad.
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, const GradOptions& options = {});

}  // namespace xgrad::autograd
