// The global generator's state, saved and restored whole (like torch.get_rng_state /
// torch.set_rng_state): activation checkpointing replays a block's random draws (dropout
// masks) with it, and users can make a stretch of a program repeatable without reseeding.
#pragma once

#include <random>

namespace xgrad {

/// A copy of the global generator (factories.hpp: a std::mt19937_64; every random factory
/// and layer draws from it).
std::mt19937_64 get_rng_state();
/// Replaces the global generator's state: the draws that follow are those that followed
/// the get_rng_state() call that produced `state`.
void set_rng_state(const std::mt19937_64& state);

}  // namespace xgrad
