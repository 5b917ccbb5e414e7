#include "model_file.h"

#include <torch/csrc/inductor/aoti_package/model_package_loader.h>
#include <torch/cuda.h>
#include <torch/script.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace lmp_bench {
namespace {

constexpr const char *kTorchScriptMetadataFile = "lmp_bench_metadata.txt";

bool starts_with(const std::string &text, const std::string &prefix)
{
  return text.compare(0, prefix.size(), prefix) == 0;
}

// Which inputs of a piece the backward pass differentiates: a layer's state, ghost rows and
// edge features; the edge piece's edge vectors.
std::vector<size_t> differentiable_inputs(const std::string &piece, size_t count)
{
  if (!starts_with(piece, "layer_")) return {2};
  if (count > 5) return {0, 1, 4, 5};    // an edge-state model's messages
  return {0, 1, 4};
}

// Contract-3 programs in an AOTInductor package: every piece and, for conservative models,
// the VJP programs (layer_k -> layer_vjp_k, edge -> edge_vjp).
std::string vjp_program(const std::string &piece)
{
  return starts_with(piece, "layer_") ? "layer_vjp_" + piece.substr(6) : piece + "_vjp";
}

bool ends_with(const std::string &text, const std::string &suffix)
{
  return text.size() >= suffix.size() &&
      text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// "key=value" lines -> map (the TorchScript side of the metadata).
std::map<std::string, std::string> parse_key_values(const std::string &text)
{
  std::map<std::string, std::string> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return out;
}

class AotiModel : public ModelFile {
 public:
  AotiModel(const std::string &path, const std::string &requested, int device_index,
            bool exact_index) :
      ModelFile(path, exact_index)
  {
    // contract 3 packages hold one program per piece; "first" carries the metadata
    const bool pieces = package_has(path, "first");
    const char *holder = pieces ? "first" : "model";
    auto meta = torch::inductor::AOTIModelPackageLoader::load_metadata_from_package(path, holder);
    set_metadata(std::map<std::string, std::string>(meta.begin(), meta.end()));
    const std::string &compiled_for = require("device");
    if (!requested.empty() && requested != compiled_for)
      throw std::runtime_error("model file " + path + " was compiled for '" + compiled_for +
                               "' but the pair style asked for '" + requested +
                               "': an AOTInductor package runs only on the device it was compiled "
                               "for; re-export it with lmp_bench.export(..., device='" + requested +
                               "') on a machine that has it");
    choose_device(compiled_for, device_index);
    if (!pieces) {
      loaders_["model"] = load(path, "model");
      return;
    }
    const int layers = std::stoi(require("layers"));
    std::vector<std::string> names{"first", "edge"};
    for (int k = 1; k <= layers; k++) names.push_back("layer_" + std::to_string(k));
    const bool conservative = require("forces") == "conservative";
    // the last layer's program returns its own gradients (its cotangent is always ones)
    if (conservative) last_layer_ = "layer_" + std::to_string(layers);
    if (conservative && (!metadata().count("vjp") || require("vjp") != "residuals"))
      throw std::runtime_error("model file " + path + " was written by an older lmp-bench (its "
                               "VJP programs recompute the forward pass): export it again");
    for (const auto &name : std::vector<std::string>(names)) {
      loaders_[name] = load(path, name);
      if (conservative && name != "first" && name != last_layer_)
        loaders_[vjp_program(name)] = load(path, vjp_program(name));
    }
    if (package_has(path, "graph")) loaders_["graph"] = load(path, "graph");
  }

  bool has_graph() const override { return loaders_.count("graph") > 0; }

  // Contract 2, or a contract-3 package's whole-model graph.
  std::vector<torch::Tensor> run(const std::vector<torch::Tensor> &inputs) override
  {
    return program(loaders_.count("graph") ? "graph" : "model").run(inputs);
  }

  std::vector<torch::Tensor> run_piece(const std::string &name,
                                       const std::vector<torch::Tensor> &inputs,
                                       bool keep_for_vjp) override
  {
    auto out = program(name).run(inputs);
    if (name == last_layer_) {    // energies, then d(sum of energies)/d(state, ghost, features)
      last_layer_grads_.assign(out.begin() + 1, out.end());
      out.resize(1);
    } else if (keep_for_vjp) {
      kept_[name] = out;    // the piece's outputs, then the activations its VJP takes
    }
    return out;
  }

  // A compiled program has no autograd: a piece's forward program returns, after its
  // outputs, the activations its VJP program takes (lmp_bench/export/residuals.py). The last
  // layer's gradients came with its forward call (its cotangent is ones).
  std::vector<torch::Tensor> vjp(const std::string &name,
                                 const std::vector<torch::Tensor> &grads) override
  {
    if (name == last_layer_) return last_layer_grads_;
    const auto &kept = kept_.at(name);
    std::vector<torch::Tensor> inputs(kept.begin() + grads.size(), kept.end());
    inputs.insert(inputs.end(), grads.begin(), grads.end());
    auto out = program(vjp_program(name)).run(inputs);
    kept_.erase(name);
    return out;
  }

 private:
  std::unique_ptr<torch::inductor::AOTIModelPackageLoader> load(const std::string &path,
                                                                const std::string &name)
  {
    return std::make_unique<torch::inductor::AOTIModelPackageLoader>(
        path, name, false, 1, device_.is_cuda() ? device_.index() : -1);
  }

  torch::inductor::AOTIModelPackageLoader &program(const std::string &name)
  {
    auto found = loaders_.find(name);
    if (found == loaders_.end())
      throw std::runtime_error("model file " + path_ + " has no program '" + name +
                               "': re-export it with this lmp-bench version");
    return *found->second;
  }

  // Is there a program `name` in the package? (AOTInductor stores each under
  // data/aotinductor/<name>/ in the zip.)
  static bool package_has(const std::string &path, const std::string &name)
  {
    try {
      torch::inductor::AOTIModelPackageLoader::load_metadata_from_package(path, name);
      return true;
    } catch (const std::exception &) {
      return false;
    }
  }

  std::map<std::string, std::unique_ptr<torch::inductor::AOTIModelPackageLoader>> loaders_;
  std::map<std::string, std::vector<torch::Tensor>> kept_;
  std::string last_layer_;    // conservative models: "layer_L"
  std::vector<torch::Tensor> last_layer_grads_;
};

class TorchScriptModel : public ModelFile {
 public:
  TorchScriptModel(const std::string &path, const std::string &requested, int device_index,
                   bool exact_index) :
      ModelFile(path, exact_index)
  {
    torch::jit::ExtraFilesMap extra{{kTorchScriptMetadataFile, ""}};
    module_ = torch::jit::load(path, torch::kCPU, extra);
    if (extra[kTorchScriptMetadataFile].empty())
      throw std::runtime_error("TorchScript file " + path +
                               " has no lmp-bench metadata: export it with lmp_bench.export");
    set_metadata(parse_key_values(extra[kTorchScriptMetadataFile]));
    choose_device(requested.empty() ? require("device") : requested, device_index);
    module_.to(device_);
    module_.eval();
  }

  std::vector<torch::Tensor> run(const std::vector<torch::Tensor> &inputs) override
  {
    return tensors_of(module_.forward(std::vector<torch::jit::IValue>(inputs.begin(), inputs.end())));
  }

  // Keeps the autograd graph from the piece's forward to its vjp: nothing is recomputed.
  std::vector<torch::Tensor> run_piece(const std::string &name,
                                       const std::vector<torch::Tensor> &inputs,
                                       bool keep_for_vjp) override
  {
    torch::jit::Module piece = piece_module(name);
    if (!keep_for_vjp) {
      torch::NoGradGuard no_grad;
      return tensors_of(piece.forward(std::vector<torch::jit::IValue>(inputs.begin(), inputs.end())));
    }
    torch::AutoGradMode grad_mode(true);
    Kept kept;
    std::vector<torch::jit::IValue> args;
    for (size_t i = 0; i < inputs.size(); i++) args.emplace_back(inputs[i]);
    for (size_t i : differentiable_inputs(name, inputs.size())) {
      auto leaf = inputs[i].detach().requires_grad_(true);
      args[i] = leaf;
      kept.leaves.push_back(leaf);
    }
    auto out = tensors_of(piece.forward(args));
    kept.outputs = out;
    kept_[name] = kept;
    return out;
  }

  std::vector<torch::Tensor> vjp(const std::string &name,
                                 const std::vector<torch::Tensor> &cotangents) override
  {
    Kept kept = kept_.at(name);
    kept_.erase(name);
    std::vector<torch::Tensor> outputs(kept.outputs.begin(),
                                       kept.outputs.begin() + cotangents.size());
    auto grads = torch::autograd::grad(outputs, kept.leaves, cotangents, false, false, true);
    for (size_t i = 0; i < grads.size(); i++)
      if (!grads[i].defined()) grads[i] = torch::zeros_like(kept.leaves[i]);
    return grads;
  }

 private:
  struct Kept {
    std::vector<torch::Tensor> leaves;
    std::vector<torch::Tensor> outputs;
  };

  static std::vector<torch::Tensor> tensors_of(const torch::jit::IValue &value)
  {
    if (value.isTensor()) return {value.toTensor()};
    std::vector<torch::Tensor> out;
    for (const auto &item : value.toTuple()->elements()) out.push_back(item.toTensor());
    return out;
  }

  // The scripted container of lmp_bench/export_halo.py: first, edge, middle[0..L-2], last.
  torch::jit::Module piece_module(const std::string &name)
  {
    if (!starts_with(name, "layer_")) return module_.attr(name).toModule();
    const int k = std::stoi(name.substr(6));
    const int layers = std::stoi(require("layers"));
    if (k == layers) return module_.attr("last").toModule();
    return module_.attr("middle").toModule().attr(std::to_string(k - 1)).toModule();
  }

  torch::jit::Module module_;
  std::map<std::string, Kept> kept_;
};

}    // namespace

std::vector<std::string> split_words(const std::string &text)
{
  std::istringstream in(text);
  std::vector<std::string> words;
  std::string word;
  while (in >> word) words.push_back(word);
  return words;
}

const std::string &ModelFile::require(const std::string &key) const
{
  auto found = metadata_.find(key);
  if (found == metadata_.end())
    throw std::runtime_error("model file " + path_ + " lacks the metadata key '" + key +
                             "': it was not written by lmp_bench.export (or by an older version)");
  return found->second;
}

void ModelFile::set_metadata(std::map<std::string, std::string> metadata)
{
  metadata_ = std::move(metadata);
  if (is_nequip()) {    // nequip-compile's own keys for the dtype and the compile device
    metadata_["dtype"] = require("model_dtype");
    if (metadata_.count("AOTI_DEVICE_KEY")) metadata_["device"] = metadata_["AOTI_DEVICE_KEY"];
  }
  const std::string &dtype = require("dtype");
  if (dtype == "float64")
    dtype_ = torch::kFloat64;
  else if (dtype == "float32")
    dtype_ = torch::kFloat32;
  else
    throw std::runtime_error("model file " + path_ + " has unsupported dtype '" + dtype + "'");
}

void ModelFile::choose_device(const std::string &requested, int device_index)
{
  if (requested == "cpu") {
    device_ = torch::Device(torch::kCPU);
  } else if (requested == "cuda") {
    if (!torch::cuda::is_available())
      throw std::runtime_error("model " + path_ +
                               " needs CUDA but this process sees no CUDA GPU (or torch is a "
                               "CPU build): use a CPU export or run where a GPU is visible");
    const int count = static_cast<int>(torch::cuda::device_count());
    if (exact_index_ && device_index >= count)
      throw std::runtime_error("model " + path_ + " asked for GPU cuda:" +
                               std::to_string(device_index) + " but this process sees " +
                               std::to_string(count) + " GPU(s)");
    device_ = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(device_index % count));
  } else {
    throw std::runtime_error("unknown device '" + requested + "' for model " + path_ +
                             ": use cpu or cuda");
  }
}

std::unique_ptr<ModelFile> ModelFile::open(const std::string &path, const std::string &device,
                                           int device_index, bool exact_index)
{

  if (!std::ifstream(path).good())
    throw std::runtime_error("model file " + path +
                             " cannot be read: check the path given to pair_style mlff");
  try {
    if (ends_with(path, ".pt2"))
      return std::make_unique<AotiModel>(path, device, device_index, exact_index);
    return std::make_unique<TorchScriptModel>(path, device, device_index, exact_index);
  } catch (const c10::Error &err) {
    throw std::runtime_error("cannot load model file " + path +
                             " (is it a .pt2 or TorchScript file written by lmp_bench.export?): " +
                             err.what_without_backtrace());
  }
}

}    // namespace lmp_bench
