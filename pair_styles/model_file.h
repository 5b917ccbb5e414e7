// A deployed lmp-bench model: an AOTInductor package (.pt2) or a TorchScript file.
//
// Both formats carry the same metadata (see README.md in this folder) and take the
// same inputs, so the pair style never needs to know which one it runs.
#pragma once

#include <torch/torch.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace lmp_bench {

// Whitespace-separated words of a metadata value ("O H" -> {"O", "H"}).
std::vector<std::string> split_words(const std::string &text);

class ModelFile {
 public:
  virtual ~ModelFile() = default;

  // Opens `path`; throws std::runtime_error with a message that names the problem.
  // `device` is "cpu", "cuda" or "" (the device recorded in the file); `device_index`
  // picks the GPU for CUDA models: that GPU if `exact_index`, else index % GPU count.
  static std::unique_ptr<ModelFile> open(const std::string &path, const std::string &device,
                                         int device_index, bool exact_index = false);

  // Metadata written by lmp_bench.export (string values).
  const std::map<std::string, std::string> &metadata() const { return metadata_; }
  // One metadata value; throws when the file lacks it.
  const std::string &require(const std::string &key) const;
  // A file made by nequip-compile (its own inputs and outputs, see README.md).
  bool is_nequip() const { return metadata_.count("nequip_aoti_inputs") > 0; }

  // Contract 2: runs the graph: positions (N,3), species (N,), edge_index (2,E),
  // edge_shift (E,3), nlocal () -> atom_energy (N,), forces (N,3), atom_virial (N,6).
  virtual std::vector<torch::Tensor> run(const std::vector<torch::Tensor> &inputs) = 0;

  // Contract 3: does the file also hold the whole model as one contract-2 graph (`run`)?
  virtual bool has_graph() const { return false; }
  // Contract 3: runs piece `name` ("first", "edge", "layer_1" .. "layer_L"; see
  // lmp_bench/models/halo.py). With `keep_for_vjp` the piece remembers what `vjp` needs.
  virtual std::vector<torch::Tensor> run_piece(const std::string &name,
                                               const std::vector<torch::Tensor> &inputs,
                                               bool keep_for_vjp) = 0;
  // The vector-Jacobian product of the last kept call of piece `name` with `grads` (the
  // cotangents of its first outputs: the state, and an edge-state model's messages): for
  // "layer_k" d/d(state, ghost, edge features[, messages]), for "edge" d/d(edge vectors).
  // For the last layer the cotangent must be ones (the energy's): an AOTInductor package
  // computes those gradients in the forward call.
  virtual std::vector<torch::Tensor> vjp(const std::string &name,
                                         const std::vector<torch::Tensor> &grads) = 0;

  torch::Device device() const { return device_; }
  torch::ScalarType dtype() const { return dtype_; }

 protected:
  ModelFile(std::string path, bool exact_index) : path_(std::move(path)), exact_index_(exact_index)
  {
  }
  // Chooses the device: the requested one, else the one recorded in the metadata.
  void choose_device(const std::string &requested, int device_index);
  void set_metadata(std::map<std::string, std::string> metadata);

  std::string path_;
  bool exact_index_ = false;    // device_index names the GPU itself (pair_style ... cuda:K)
  torch::Device device_ = torch::kCPU;
  torch::ScalarType dtype_ = torch::kFloat64;
  std::map<std::string, std::string> metadata_;
};

}    // namespace lmp_bench
