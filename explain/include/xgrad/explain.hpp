// Umbrella header of xgrad_explain: interpretability (xgrad::explain) and adversarial
// robustness (xgrad::adversarial).
#pragma once

#include "xgrad/explain/adversarial.hpp"
#include "xgrad/explain/attribution.hpp"
#include "xgrad/explain/cam.hpp"
#include "xgrad/explain/faithfulness.hpp"
