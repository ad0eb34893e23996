// Umbrella header of the data component: datasets, the DataLoader, samplers, per-sample
// transforms, IDX / MNIST reading and synthetic data.
#pragma once

#include "xgrad/data/dataloader.hpp"
#include "xgrad/data/dataset.hpp"
#include "xgrad/data/idx.hpp"
#include "xgrad/data/sampler.hpp"
#include "xgrad/data/synthetic.hpp"
#include "xgrad/data/transforms.hpp"
