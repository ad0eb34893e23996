// Umbrella header of the data component: datasets, the DataLoader, IDX / MNIST reading and
// synthetic data.
#pragma once

#include "xgrad/data/dataloader.hpp"
#include "xgrad/data/dataset.hpp"
#include "xgrad/data/idx.hpp"
#include "xgrad/data/synthetic.hpp"
