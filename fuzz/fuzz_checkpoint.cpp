// Fuzz target: resuming training from a checkpoint, as tutorial 06 does. The input is a
// safetensors file whose tensors "model.<key>", "optim.<key>" and "sched.<key>" are the state
// dicts of a small model (fuzz_util.hpp), its Adam optimizer and a StepLR scheduler. After
// the three load_state_dict calls succeed, two training steps run: resumed state must be
// usable or rejected with an xgrad::Error, never crash.
#include "fuzz_model.hpp"
#include "xgrad/autograd/serialize.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace xgrad;
  const std::string& path = fuzz::write_scratch("checkpoint", data, size);
  try {
    const SafetensorsFile file = load_safetensors(path);
    TensorDict model_state, optim_state, sched_state;
    for (const auto& [key, t] : file.tensors) {
      if (key.starts_with("model.")) model_state[key.substr(6)] = t;
      if (key.starts_with("optim.")) optim_state[key.substr(6)] = t;
      if (key.starts_with("sched.")) sched_state[key.substr(6)] = t;
    }
    auto model = fuzz::make_model();
    optim::Adam opt(model->parameters(), optim::AdamOptions(1e-2));
    optim::StepLR sched(opt, 2, 0.5);
    model->load_state_dict(model_state);
    opt.load_state_dict(optim_state);
    sched.load_state_dict(sched_state);
    for (int step = 0; step < 2; ++step) {
      fuzz::train_step(*model, opt);
      sched.step();
    }
    // The state written after resuming must load into a fresh model and optimizer again.
    auto model2 = fuzz::make_model();
    optim::Adam opt2(model2->parameters(), optim::AdamOptions(1e-2));
    model2->load_state_dict(model->state_dict());
    opt2.load_state_dict(opt.state_dict());
  } catch (const Error&) {
  }
  return 0;
}
