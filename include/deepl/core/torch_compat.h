#pragma once
// The one place where deepl's code differs between the LibTorch lines it supports: 1.13 (Debian 12)
// and 2.x (Debian 13 ships 2.6). Everything else uses API that exists in both; a new difference
// gets a function here, keyed on TORCH_VERSION_MAJOR/MINOR, never an #if in the code that uses it.
#include <c10/core/ScalarType.h>
#include <torch/optim/optimizer.h>
#include <torch/types.h>
#include <torch/version.h>

#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#define DEEPL_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace deepl::compat {

/// The key torch::optim::Optimizer::state() files a parameter's state under: a string of the
/// TensorImpl address in 1.13, the address itself (void*) in 2.x.
using OptimizerStateKey = std::decay_t<decltype(std::declval<torch::optim::Optimizer&>().state())>::key_type;

inline OptimizerStateKey optimizer_state_key(const torch::Tensor& parameter) {
#if DEEPL_TORCH_AT_LEAST(2, 0)
  return parameter.unsafeGetTensorImpl();
#else
  return c10::guts::to_string(parameter.unsafeGetTensorImpl());
#endif
}

/// The alternative `T` of a LibTorch option variant (c10::variant in 1.13, std::variant in 2.x),
/// or nullptr when it holds another.
template <typename T, typename Variant>
const T* variant_get_if(const Variant& v) {
  using std::get_if;
  return get_if<T>(&v);  // c10::get_if through argument-dependent lookup on 1.13
}

template <typename T, typename Variant>
bool variant_holds(const Variant& v) {
  return variant_get_if<T>(v) != nullptr;
}

namespace detail {
template <typename T, typename = void>
struct has_use_libuv : std::false_type {};
template <typename T>
struct has_use_libuv<T, std::void_t<decltype(std::declval<T&>().useLibUV)>> : std::true_type {};
}  // namespace detail

/// c10d::TCPStoreOptions for a plain TCP store: LibTorch 2.x asks for a libuv server by default,
/// which Debian's build lacks ("use_libuv was requested but PyTorch was build without libuv").
template <typename StoreOptions>
void use_plain_tcp_store(StoreOptions& options) {
  if constexpr (detail::has_use_libuv<StoreOptions>::value) options.useLibUV = false;
}

/// CPU autocast state (LibTorch 2.4 renamed the per-device functions and warns on every call of the old ones).
bool cpu_autocast_enabled();
void set_cpu_autocast_enabled(bool enabled);
void set_cpu_autocast_dtype(c10::ScalarType dtype);

}  // namespace deepl::compat
