// The entry point of the memory-efficient attention kernels (attention_efficient.cpp), called
// by scaled_dot_product_attention (attention.cpp) after validation.
#pragma once

#include <cstdint>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad::nn::sdpa_detail {

/// batch: the broadcast leading dims (query's heads on the last one with GQA); gk / gv: query
/// heads per key / value head (1 without GQA).
Tensor efficient_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& mask, bool is_causal,
                           double scale, const Shape& batch, std::int64_t gk, std::int64_t gv);

}  // namespace xgrad::nn::sdpa_detail
