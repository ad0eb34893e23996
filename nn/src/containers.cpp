#include "xgrad/nn/containers.hpp"

namespace xgrad::nn {

namespace {

std::size_t checked_index(std::int64_t i, std::size_t size, std::string_view who) {
  const auto n = static_cast<std::int64_t>(size);
  const std::int64_t j = i < 0 ? i + n : i;
  if (j < 0 || j >= n) throw Error(fmt::format("{}: index {} is out of range for {} modules", who, i, n));
  return static_cast<std::size_t>(j);
}

}  // namespace

// ---- Sequential --------------------------------------------------------------------------------

Sequential::Sequential(const std::vector<std::shared_ptr<Module>>& modules) : Module("Sequential") {
  for (const auto& m : modules) push_back(m);
}

void Sequential::push_back(std::shared_ptr<Module> module) {
  if (!module) throw Error(fmt::format("Sequential: cannot add a null module at position {}", list_.size()));
  register_module(std::to_string(list_.size()), module);
  list_.push_back(std::move(module));
}

std::shared_ptr<Module> Sequential::operator[](std::int64_t i) const {
  return list_[checked_index(i, list_.size(), "Sequential")];
}

void Sequential::throw_wrong_type(std::int64_t i) const {
  throw Error(fmt::format("Sequential: element {} is a {}, not the requested type", i, (*this)[i]->name()));
}

Tensor Sequential::forward(const Tensor& input) {
  Tensor x = input;
  for (const auto& m : list_) x = (*m)(x);
  return x;
}

std::vector<std::shared_ptr<Module>>::const_iterator Sequential::begin() const { return list_.begin(); }
std::vector<std::shared_ptr<Module>>::const_iterator Sequential::end() const { return list_.end(); }

// ---- ModuleList ------------------------------------------------------------------------------------

ModuleList::ModuleList(const std::vector<std::shared_ptr<Module>>& modules) : Module("ModuleList") {
  for (const auto& m : modules) push_back(m);
}

void ModuleList::push_back(std::shared_ptr<Module> module) {
  if (!module) throw Error(fmt::format("ModuleList: cannot add a null module at position {}", list_.size()));
  register_module(std::to_string(list_.size()), module);
  list_.push_back(std::move(module));
}

std::shared_ptr<Module> ModuleList::operator[](std::int64_t i) const {
  return list_[checked_index(i, list_.size(), "ModuleList")];
}

// ---- ModuleDict ------------------------------------------------------------------------------------

ModuleDict::ModuleDict(const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& modules)
    : Module("ModuleDict") {
  for (const auto& [n, m] : modules) insert(n, m);
}

void ModuleDict::insert(const std::string& name, std::shared_ptr<Module> module) {
  register_module(name, std::move(module));
}

std::shared_ptr<Module> ModuleDict::at(const std::string& name) const {
  for (const auto& [n, m] : children_)
    if (n == name) return m;
  throw Error(fmt::format("ModuleDict: no module named '{}' (keys: {})", name, fmt::join(keys(), ", ")));
}

bool ModuleDict::contains(const std::string& name) const {
  for (const auto& [n, m] : children_)
    if (n == name) return true;
  return false;
}

std::vector<std::string> ModuleDict::keys() const {
  std::vector<std::string> out;
  for (const auto& [n, m] : children_) out.push_back(n);
  return out;
}

// ---- Functional ------------------------------------------------------------------------------------

Functional::Functional(std::function<Tensor(const Tensor&)> fn, std::string name)
    : Module(std::move(name)), fn_(std::move(fn)) {
  if (!fn_) throw Error(fmt::format("{}: constructed from an empty function", name_));
}

}  // namespace xgrad::nn
