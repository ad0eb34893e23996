// Checkpoints of distributed training: written by rank 0 only, read by every rank.
//
// A checkpoint is one safetensors file: the model's state_dict() under "model.<name>" and,
// when given, the optimizer's state_dict() under "optimizer.<key>" (a DDP wrapper's keys
// read "model.module.<name>"). Saving the DDP wrapper or its module() are both fine; load
// into the same kind of object.
#pragma once

#include <string>

#include "xgrad/autograd/serialize.hpp"
#include "xgrad/nn/module.hpp"
#include "xgrad/optim/optimizer.hpp"

namespace xgrad::distributed {

/// A collective: rank 0 writes the checkpoint atomically (save_safetensors: a crash never
/// leaves half a file), then every rank learns whether it succeeded; all ranks return
/// together (nobody reads a file that is still being written). The other ranks' model and
/// optimizer are not read (they equal rank 0's under DDP). Throws xgrad::Error
/// "save_checkpoint: ..." on EVERY rank when rank 0 fails to write (naming the path and
/// rank 0's error), so no rank waits for the others. Without MPI initialised it simply saves.
void save_checkpoint(const std::string& path, const nn::Module& model, const optim::Optimizer* optimizer = nullptr,
                     const Metadata& metadata = {});

/// A collective: rank 0 reads the file and broadcasts its bytes (the other ranks need no
/// access to it: no shared file system is assumed), every rank validates them and loads
/// "model.*" into `model` (strict, see Module::load_state_dict) and, when given,
/// "optimizer.*" into `optimizer`. Returns the file's metadata. Throws xgrad::Error
/// "load_checkpoint: ..." on every rank when rank 0 cannot read the file, when it is not a
/// valid safetensors file, when it holds no "model." entries (and the model has a state),
/// or when it holds no "optimizer." entries but an optimizer is given; the load_state_dict
/// errors (missing or unexpected keys, shape mismatches) are thrown as they are, on every
/// rank.
Metadata load_checkpoint(const std::string& path, nn::Module& model, optim::Optimizer* optimizer = nullptr);

}  // namespace xgrad::distributed
