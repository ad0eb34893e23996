// Containers: Sequential, ModuleList, ModuleDict, and Functional (a function as a module).
//
//   auto net = std::make_shared<xgrad::nn::Sequential>(
//       std::make_shared<xgrad::nn::Linear>(4, 8),
//       std::make_shared<xgrad::nn::Functional>([](const xgrad::Tensor& x) { return x.relu(); }, "ReLU"),
//       std::make_shared<xgrad::nn::Linear>(8, 1));
//   xgrad::Tensor y = (*net)(x);   // children are called through operator() (hooks run)
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "xgrad/nn/module.hpp"

namespace xgrad::nn {

/// Chains modules: forward(x) = m_{n-1}(...m_1(m_0(x))). Children are named "0", "1", ...
/// in order. An empty Sequential returns its input.
class Sequential : public Module {
 public:
  Sequential() : Module("Sequential") {}
  /// Sequential(m0, m1, ...) from shared_ptrs to any Module subclasses. Throws xgrad::Error
  /// for a null pointer.
  template <class... Ms>
  explicit Sequential(std::shared_ptr<Ms>... modules) : Module("Sequential") {
    (push_back(std::shared_ptr<Module>(std::move(modules))), ...);
  }
  explicit Sequential(const std::vector<std::shared_ptr<Module>>& modules);

  /// Appends a module under the name str(size()).
  void push_back(std::shared_ptr<Module> module);
  std::size_t size() const { return children_.size(); }
  bool empty() const { return children_.empty(); }
  /// The i-th module; negative i counts from the end. Throws when out of range.
  std::shared_ptr<Module> operator[](std::int64_t i) const;
  /// The i-th module cast to M (throws when the type does not match).
  template <class M>
  std::shared_ptr<M> at(std::int64_t i) const {
    auto p = std::dynamic_pointer_cast<M>((*this)[i]);
    if (!p) throw_wrong_type(i);
    return p;
  }

  Tensor forward(const Tensor& input) override;

  std::vector<std::shared_ptr<Module>>::const_iterator begin() const;
  std::vector<std::shared_ptr<Module>>::const_iterator end() const;

 private:
  [[noreturn]] void throw_wrong_type(std::int64_t i) const;
  std::vector<std::shared_ptr<Module>> list_;  // the children, for iteration
};

/// A list of modules registered as children "0", "1", ... (their parameters are part of the
/// parent's). It has no forward: the owner decides how to call them.
class ModuleList : public Module {
 public:
  ModuleList() : Module("ModuleList") {}
  template <class... Ms>
  explicit ModuleList(std::shared_ptr<Ms>... modules) : Module("ModuleList") {
    (push_back(std::shared_ptr<Module>(std::move(modules))), ...);
  }
  explicit ModuleList(const std::vector<std::shared_ptr<Module>>& modules);

  void push_back(std::shared_ptr<Module> module);
  std::size_t size() const { return list_.size(); }
  bool empty() const { return list_.empty(); }
  /// The i-th module; negative i counts from the end. Throws when out of range.
  std::shared_ptr<Module> operator[](std::int64_t i) const;
  template <class M>
  std::shared_ptr<M> at(std::int64_t i) const {
    auto p = std::dynamic_pointer_cast<M>((*this)[i]);
    if (!p) throw Error(fmt::format("ModuleList: element {} is a {}, not the requested type", i, (*this)[i]->name()));
    return p;
  }
  std::vector<std::shared_ptr<Module>>::const_iterator begin() const { return list_.begin(); }
  std::vector<std::shared_ptr<Module>>::const_iterator end() const { return list_.end(); }

 private:
  std::vector<std::shared_ptr<Module>> list_;
};

/// Modules by name, iterated in insertion order. Names follow the registration rules (non-empty,
/// no '.', unique); no forward.
class ModuleDict : public Module {
 public:
  ModuleDict() : Module("ModuleDict") {}
  explicit ModuleDict(const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& modules);

  /// Adds `module` under `name`. Throws xgrad::Error when the name is taken or invalid.
  void insert(const std::string& name, std::shared_ptr<Module> module);
  /// The module named `name`; throws xgrad::Error listing the known names when absent.
  std::shared_ptr<Module> at(const std::string& name) const;
  std::shared_ptr<Module> operator[](const std::string& name) const { return at(name); }
  template <class M>
  std::shared_ptr<M> at(const std::string& name) const {
    auto p = std::dynamic_pointer_cast<M>(at(name));
    if (!p) throw Error(fmt::format("ModuleDict: '{}' is a {}, not the requested type", name, at(name)->name()));
    return p;
  }
  bool contains(const std::string& name) const;
  std::size_t size() const { return children_.size(); }
  bool empty() const { return children_.empty(); }
  /// Names in insertion order.
  std::vector<std::string> keys() const;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>>::const_iterator begin() const {
    return children_.begin();
  }
  std::vector<std::pair<std::string, std::shared_ptr<Module>>>::const_iterator end() const { return children_.end(); }
};

/// Wraps a function or lambda Tensor -> Tensor as a parameterless module, printed as
/// "<name>()" (default "Functional()"). Throws xgrad::Error when constructed from an empty
/// std::function.
class Functional : public Module {
 public:
  explicit Functional(std::function<Tensor(const Tensor&)> fn, std::string name = "Functional");
  Tensor forward(const Tensor& input) override { return fn_(input); }

 private:
  std::function<Tensor(const Tensor&)> fn_;
};

}  // namespace xgrad::nn
