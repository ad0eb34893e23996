// safetensors files: the checkpoint format shared by nn state dicts and optimizer state.
//
// Layout (https://github.com/huggingface/safetensors): 8-byte little-endian header length N,
// N bytes of JSON {"name": {"dtype": "F32"|"F64"|"I64"|"I32"|"BOOL", "shape": [...], "data_offsets": [b, e]},
// ..., "__metadata__": {"key": "value"}}, then the raw little-endian data; offsets are relative
// to the end of the header. Files written here load with the Python `safetensors` package
// (safetensors.torch.load_file), and files it writes with these dtypes load here.
//
// This lives in autograd (not nn) because both nn and optim save through it and neither may
// depend on the other.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "xgrad/autograd/tensor.hpp"

namespace xgrad {

/// Named tensors, sorted by name.
using TensorDict = std::map<std::string, Tensor>;
/// The optional "__metadata__" string map.
using Metadata = std::map<std::string, std::string>;

struct SafetensorsFile {
  TensorDict tensors;
  Metadata metadata;
};

/// Serialises to the safetensors byte layout: "__metadata__" first (omitted when empty), then
/// the tensors in name order with their data contiguous in that order; the JSON header is
/// padded with spaces so the data starts 8-byte aligned, as the reference writer does. The
/// output is deterministic. Throws xgrad::Error for an undefined tensor, an empty name, a
/// tensor named "__metadata__", or names/metadata that are not valid UTF-8.
std::string to_safetensors_bytes(const TensorDict& tensors, const Metadata& metadata = {});
/// Parses and validates a safetensors byte buffer. Any violation throws xgrad::Error
/// ("safetensors: ...") naming the problem (and the tensor or key): fewer than 8 bytes; a
/// header length over 100 MB or larger than the bytes that follow; a header that does not
/// start with '{' (leading whitespace or a UTF-8 byte-order mark included), is not valid
/// JSON, nests brackets deeper than 128 levels (checked by a linear scan before parsing, so
/// no input can exhaust the stack), or has anything but spaces (0x20) after the object's
/// closing '}'; a key repeated within one JSON object; an empty tensor name; an entry that
/// is not an object or lacks "dtype" (string: F32, F64, I64, I32 or BOOL; other safetensors dtypes
/// such as BF16 are "unknown"), "shape" (array of non-negative integers) or "data_offsets"
/// (array [begin, end] of non-negative integers, begin <= end <= data size); prod(shape) *
/// dtype size != end - begin, or a product that overflows (a zero dimension makes it 0, so
/// [2^62, 0] is a valid empty tensor); offsets that overlap, leave a gap, or do not cover the
/// data section exactly (as the reference reader requires); an "__metadata__" that is not an
/// object of strings. Key order and space padding are free. Nothing is ever read out of
/// bounds. The returned tensors own their data and do not require grad.
SafetensorsFile from_safetensors_bytes(std::string_view bytes);

/// Writes atomically: the bytes go to a temporary file in the same directory
/// ("<path>.xgrad-tmp.<pid>.<n>"), which is fsync'ed and then renamed over `path`, so a crash
/// never leaves a half-written checkpoint and an existing file is replaced whole. A process
/// killed mid-save leaves its temporary behind; each save first removes the temporaries of
/// the same `path` whose pid names no live process (kill(pid, 0) fails with ESRCH), so saves
/// of other files in the folder, and live saves of this one, are never touched. Limits: a
/// stale file whose pid has been reused stays until that process exits, and a process in
/// another pid namespace sharing the folder looks dead (its concurrent save of the same path
/// then fails cleanly). Throws xgrad::Error naming the path on any I/O failure (missing
/// directory, rename over a directory, ...), after removing the temporary file; the old file
/// is left untouched.
void save_safetensors(const std::string& path, const TensorDict& tensors, const Metadata& metadata = {});
/// Reads the whole file and validates it (see from_safetensors_bytes; parse errors are
/// prefixed with the path). Throws xgrad::Error naming the path when it cannot be opened or
/// is not a regular file.
SafetensorsFile load_safetensors(const std::string& path);

}  // namespace xgrad
