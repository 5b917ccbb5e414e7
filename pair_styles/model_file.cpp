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
  AotiModel(const std::string &path, const std::string &requested, int device_index) :
      ModelFile(path)
  {
    auto meta = torch::inductor::AOTIModelPackageLoader::load_metadata_from_package(path, "model");
    set_metadata(std::map<std::string, std::string>(meta.begin(), meta.end()));
    const std::string &compiled_for = require("device");
    if (!requested.empty() && requested != compiled_for)
      throw std::runtime_error("model file " + path + " was compiled for '" + compiled_for +
                               "' but the pair style asked for '" + requested +
                               "': an AOTInductor package runs only on the device it was compiled "
                               "for; re-export it with lmp_bench.export(..., device='" + requested +
                               "') on a machine that has it");
    choose_device(compiled_for, device_index);
    loader_ = std::make_unique<torch::inductor::AOTIModelPackageLoader>(
        path, "model", false, 1, device_.is_cuda() ? device_.index() : -1);
  }

  std::vector<torch::Tensor> run(const std::vector<torch::Tensor> &inputs) override
  {
    return loader_->run(inputs);
  }

 private:
  std::unique_ptr<torch::inductor::AOTIModelPackageLoader> loader_;
};

class TorchScriptModel : public ModelFile {
 public:
  TorchScriptModel(const std::string &path, const std::string &requested, int device_index) :
      ModelFile(path)
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
    std::vector<torch::jit::IValue> args(inputs.begin(), inputs.end());
    auto tuple = module_.forward(args).toTuple();
    std::vector<torch::Tensor> out;
    for (const auto &item : tuple->elements()) out.push_back(item.toTensor());
    return out;
  }

 private:
  torch::jit::Module module_;
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
    device_ = torch::Device(torch::kCUDA,
                            static_cast<c10::DeviceIndex>(device_index % torch::cuda::device_count()));
  } else {
    throw std::runtime_error("unknown device '" + requested + "' for model " + path_ +
                             ": use cpu or cuda");
  }
}

std::unique_ptr<ModelFile> ModelFile::open(const std::string &path, const std::string &device,
                                           int device_index)
{
  if (!std::ifstream(path).good())
    throw std::runtime_error("model file " + path +
                             " cannot be read: check the path given to pair_style mlff");
  try {
    if (ends_with(path, ".pt2")) return std::make_unique<AotiModel>(path, device, device_index);
    return std::make_unique<TorchScriptModel>(path, device, device_index);
  } catch (const c10::Error &err) {
    throw std::runtime_error("cannot load model file " + path +
                             " (is it a .pt2 or TorchScript file written by lmp_bench.export?): " +
                             err.what_without_backtrace());
  }
}

}    // namespace lmp_bench
