#include "deepl/io/pytorch_file.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <cstring>
#include <functional>
#include <memory>
#include <set>
#include <string_view>

#include "deepl/core/error.h"
#include "deepl/core/files.h"

namespace deepl::io {

namespace {

// ------------------------------------------------------------------ values of the restricted unpickler

struct Value;
using ValuePtr = std::shared_ptr<Value>;

struct StorageRef {
  std::string key;
  torch::Dtype dtype = torch::kFloat;
  int64_t numel = 0;
  int64_t view_offset = 0, view_numel = -1;  // legacy views into a root storage
};

struct TensorSpec {
  StorageRef storage;
  int64_t offset = 0;
  std::vector<int64_t> sizes, strides;
};

struct Value {
  enum class Kind { kNone, kBool, kInt, kBigInt, kFloat, kString, kTuple, kList, kDict, kGlobal, kStorage, kTensor };
  Kind kind = Kind::kNone;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;  // string, raw little-endian bytes of a big int, or "module.name" of a global
  std::vector<ValuePtr> items;
  std::vector<std::pair<ValuePtr, ValuePtr>> dict;
  StorageRef storage;
  TensorSpec tensor;
};

ValuePtr make(Value::Kind kind) {
  auto v = std::make_shared<Value>();
  v->kind = kind;
  return v;
}

const std::set<std::string>& allowed_globals() {
  static const std::set<std::string> allowed = {
      "collections.OrderedDict",   "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor",
      "torch._utils._rebuild_parameter", "torch.FloatStorage",      "torch.DoubleStorage",
      "torch.HalfStorage",         "torch.BFloat16Storage",           "torch.LongStorage",
      "torch.IntStorage",          "torch.ShortStorage",              "torch.CharStorage",
      "torch.ByteStorage",         "torch.BoolStorage",
      // torch::pickle_save (LibTorch) tags typed lists and dicts; each returns its first argument.
      "torch.jit._pickle.restore_type_tag", "torch.jit._pickle.build_intlist", "torch.jit._pickle.build_doublelist",
      "torch.jit._pickle.build_boollist", "torch.jit._pickle.build_tensorlist"};
  return allowed;
}

torch::Dtype storage_dtype(const std::string& global, const std::string& origin) {
  static const std::map<std::string, torch::Dtype> types = {
      {"torch.FloatStorage", torch::kFloat},  {"torch.DoubleStorage", torch::kDouble}, {"torch.HalfStorage", torch::kHalf},
      {"torch.BFloat16Storage", torch::kBFloat16}, {"torch.LongStorage", torch::kLong}, {"torch.IntStorage", torch::kInt},
      {"torch.ShortStorage", torch::kShort},  {"torch.CharStorage", torch::kChar},     {"torch.ByteStorage", torch::kByte},
      {"torch.BoolStorage", torch::kBool}};
  const auto it = types.find(global);
  if (it == types.end()) throw_data(origin + ": unsupported storage type " + global);
  return it->second;
}

// ------------------------------------------------------------------ the unpickler

class Unpickler {
 public:
  Unpickler(std::string_view bytes, std::string origin) : in_(bytes), origin_(std::move(origin)) {}
  Unpickler(const Unpickler&) = delete;
  Unpickler& operator=(const Unpickler&) = delete;
  // The memo lets a pickle put a container inside itself; emptying every value made here breaks
  // such cycles (no leak) and keeps destruction flat however deep the nesting.
  ~Unpickler() {
    for (const auto& v : made_) {
      v->items.clear();
      v->dict.clear();
    }
  }

  // Reads one pickle; returns its value and leaves the position after its STOP.
  ValuePtr load() {
    stack_.clear();
    marks_.clear();
    memo_.clear();
    while (true) {
      const size_t at = pos_;
      const uint8_t op = byte();
      switch (op) {
        case 0x80: byte(); break;       // PROTO
        case 0x95: bytes(8); break;     // FRAME
        case '.': return pop();         // STOP
        case '(': marks_.push_back(stack_.size()); break;
        case ')': push(make(Value::Kind::kTuple)); break;
        case ']': push(make(Value::Kind::kList)); break;
        case '}': push(make(Value::Kind::kDict)); break;
        case 'N': push(make(Value::Kind::kNone)); break;
        case 0x88: push_bool(true); break;
        case 0x89: push_bool(false); break;
        case 'J': push_int(static_cast<int32_t>(le(4))); break;
        case 'K': push_int(static_cast<int64_t>(le(1))); break;
        case 'M': push_int(static_cast<int64_t>(le(2))); break;
        case 0x8a: long1(); break;
        case 'G': binfloat(); break;
        case 'X': push_string(bytes(le(4))); break;
        case 0x8c: push_string(bytes(le(1))); break;
        case 0x8d: push_string(bytes(le(8))); break;
        case 'T': push_string(bytes(le(4))); break;
        case 'U': push_string(bytes(le(1))); break;
        case 'C': push_string(bytes(le(1))); break;  // SHORT_BINBYTES
        case 'B': push_string(bytes(le(4))); break;  // BINBYTES
        case 't': tuple_from_mark(); break;
        case 0x85: tuple_of(1); break;
        case 0x86: tuple_of(2); break;
        case 0x87: tuple_of(3); break;
        case 'c': {
          const std::string module = line();  // sequenced: argument evaluation order is unspecified
          global(module, line());
          break;
        }
        case 0x93: stack_global(); break;
        case 'q': memo_put(le(1)); break;
        case 'r': memo_put(le(4)); break;
        case 0x94: memo_put(memo_.size()); break;
        case 'h': memo_get(le(1)); break;
        case 'j': memo_get(le(4)); break;
        case 'a': append(1); break;
        case 'e': append(0); break;
        case 's': setitems(true); break;
        case 'u': setitems(false); break;
        case 'R': reduce(); break;
        case 'b': pop(); break;  // BUILD: object state (an OrderedDict's _metadata) is not needed
        case 'Q': persistent_id(); break;
        case '0': pop(); break;  // POP
        default:
          throw_data(fmt::format("{}: pickle opcode 0x{:02x} at byte {} is not allowed in a state dict", origin_, op, at));
      }
    }
  }

  size_t position() const { return pos_; }
  /// Called for each storage a persistent id names (key, dtype, numel).
  std::vector<StorageRef> storages;

 private:
  uint8_t byte() {
    if (pos_ >= in_.size()) throw_data(origin_ + ": truncated pickle");
    return static_cast<uint8_t>(in_[pos_++]);
  }
  std::string bytes(uint64_t n) {
    if (n > in_.size() - pos_) throw_data(fmt::format("{}: truncated pickle (needs {} more bytes)", origin_, n));
    std::string out(in_.substr(pos_, n));
    pos_ += n;
    return out;
  }
  uint64_t le(int n) {
    uint64_t v = 0;
    for (int k = 0; k < n; ++k) v |= uint64_t{byte()} << (8 * k);
    return v;
  }
  std::string line() {
    const size_t end = in_.find('\n', pos_);
    if (end == std::string_view::npos || end - pos_ > 256) throw_data(origin_ + ": malformed GLOBAL in pickle");
    std::string out(in_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return out;
  }
  void push(ValuePtr v) {
    if (stack_.size() > (1u << 20)) throw_data(origin_ + ": pickle stack too deep");
    stack_.push_back(std::move(v));
  }
  ValuePtr pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) throw_data(origin_ + ": malformed pickle (stack underflow)");
    ValuePtr v = stack_.back();
    stack_.pop_back();
    return v;
  }
  ValuePtr& top() {
    if (stack_.empty()) throw_data(origin_ + ": malformed pickle (empty stack)");
    return stack_.back();
  }
  std::vector<ValuePtr> pop_to_mark() {
    if (marks_.empty()) throw_data(origin_ + ": malformed pickle (no MARK)");
    const size_t mark = marks_.back();
    marks_.pop_back();
    if (mark > stack_.size()) throw_data(origin_ + ": malformed pickle (bad MARK)");
    std::vector<ValuePtr> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
    stack_.resize(mark);
    return items;
  }
  void push_bool(bool b) {
    auto v = make(Value::Kind::kBool);
    v->b = b;
    push(v);
  }
  void push_int(int64_t i) {
    auto v = make(Value::Kind::kInt);
    v->i = i;
    push(v);
  }
  void push_string(std::string s) {
    auto v = make(Value::Kind::kString);
    v->s = std::move(s);
    push(v);
  }
  void long1() {
    const uint64_t n = le(1);
    std::string raw = bytes(n);
    if (n <= 8) {
      int64_t v = 0;
      for (size_t k = 0; k < n; ++k) v |= static_cast<int64_t>(static_cast<uint8_t>(raw[k])) << (8 * k);
      if (n > 0 && n < 8 && (static_cast<uint8_t>(raw[n - 1]) & 0x80)) v -= int64_t{1} << (8 * n);  // sign
      push_int(v);
      return;
    }
    auto v = make(Value::Kind::kBigInt);
    v->s = std::move(raw);
    push(v);
  }
  void binfloat() {
    uint64_t bits = 0;
    for (int k = 0; k < 8; ++k) bits = (bits << 8) | byte();
    auto v = make(Value::Kind::kFloat);
    std::memcpy(&v->f, &bits, 8);
    push(v);
  }
  void tuple_from_mark() {
    auto v = make(Value::Kind::kTuple);
    v->items = pop_to_mark();
    push(v);
  }
  void tuple_of(int n) {
    auto v = make(Value::Kind::kTuple);
    v->items.resize(static_cast<size_t>(n));
    for (int k = n - 1; k >= 0; --k) v->items[static_cast<size_t>(k)] = pop();
    push(v);
  }
  void global(const std::string& module, const std::string& name) {
    const std::string full = module + "." + name;
    if (!allowed_globals().count(full)) {
      throw_data(fmt::format("{}: refusing to load global {} (only state-dict types are allowed; "
                             "this file may execute code when loaded in Python)", origin_, full));
    }
    auto v = make(Value::Kind::kGlobal);
    v->s = full;
    push(v);
  }
  void stack_global() {
    const ValuePtr name = pop(), module = pop();
    if (name->kind != Value::Kind::kString || module->kind != Value::Kind::kString) throw_data(origin_ + ": malformed STACK_GLOBAL");
    global(module->s, name->s);
  }
  void memo_put(uint64_t index) {
    if (index > (1u << 24)) throw_data(origin_ + ": pickle memo index too large");
    memo_[index] = top();
  }
  void memo_get(uint64_t index) {
    const auto it = memo_.find(index);
    if (it == memo_.end()) throw_data(fmt::format("{}: pickle refers to memo entry {} that does not exist", origin_, index));
    push(it->second);
  }
  void append(int count) {
    std::vector<ValuePtr> items = count == 1 ? std::vector<ValuePtr>{pop()} : pop_to_mark();
    ValuePtr& list = top();
    if (list->kind != Value::Kind::kList) throw_data(origin_ + ": APPEND to a non-list");
    list->items.insert(list->items.end(), items.begin(), items.end());
  }
  void setitems(bool single) {
    std::vector<ValuePtr> items;
    if (single) {
      ValuePtr value = pop(), key = pop();
      items = {key, value};
    } else {
      items = pop_to_mark();
    }
    if (items.size() % 2 != 0) throw_data(origin_ + ": SETITEMS with an odd number of items");
    ValuePtr& dict = top();
    if (dict->kind != Value::Kind::kDict) throw_data(origin_ + ": SETITEM on a non-dict");
    for (size_t k = 0; k < items.size(); k += 2) dict->dict.emplace_back(items[k], items[k + 1]);
  }
  int64_t as_int(const ValuePtr& v, const char* what) {
    if (v->kind != Value::Kind::kInt) throw_data(fmt::format("{}: expected an integer {} in the pickle", origin_, what));
    return v->i;
  }
  std::vector<int64_t> as_ints(const ValuePtr& v, const char* what) {
    if (v->kind != Value::Kind::kTuple && v->kind != Value::Kind::kList) {
      throw_data(fmt::format("{}: expected a tuple of {} in the pickle", origin_, what));
    }
    std::vector<int64_t> out;
    for (const auto& item : v->items) out.push_back(as_int(item, what));
    return out;
  }
  void reduce() {
    const ValuePtr args = pop(), callable = pop();
    if (callable->kind != Value::Kind::kGlobal || args->kind != Value::Kind::kTuple) {
      throw_data(origin_ + ": REDUCE of something other than an allowed global");
    }
    const auto& a = args->items;
    if (callable->s == "collections.OrderedDict") {
      push(make(Value::Kind::kDict));
    } else if (callable->s == "torch._utils._rebuild_tensor_v2" || callable->s == "torch._utils._rebuild_tensor") {
      if (a.size() < 4 || a[0]->kind != Value::Kind::kStorage) throw_data(origin_ + ": malformed _rebuild_tensor arguments");
      auto t = make(Value::Kind::kTensor);
      t->tensor.storage = a[0]->storage;
      t->tensor.offset = as_int(a[1], "storage offset");
      t->tensor.sizes = as_ints(a[2], "sizes");
      t->tensor.strides = as_ints(a[3], "strides");
      push(t);
    } else if (callable->s.rfind("torch.jit._pickle.", 0) == 0) {
      if (a.empty()) throw_data(origin_ + ": malformed " + callable->s + " arguments");
      push(a[0]);
    } else if (callable->s == "torch._utils._rebuild_parameter") {
      if (a.empty() || a[0]->kind != Value::Kind::kTensor) throw_data(origin_ + ": malformed _rebuild_parameter arguments");
      push(a[0]);
    } else {
      throw_data(origin_ + ": refusing to call " + callable->s);
    }
  }
  void persistent_id() {
    const ValuePtr pid = pop();
    const auto& t = pid->items;
    if (pid->kind != Value::Kind::kTuple || t.size() < 5 || t[0]->kind != Value::Kind::kString || t[0]->s != "storage" ||
        t[1]->kind != Value::Kind::kGlobal || (t[2]->kind != Value::Kind::kString && t[2]->kind != Value::Kind::kInt)) {
      throw_data(origin_ + ": unsupported persistent id in the pickle (not a tensor storage)");
    }
    auto v = make(Value::Kind::kStorage);
    v->storage.key = t[2]->kind == Value::Kind::kString ? t[2]->s : std::to_string(t[2]->i);
    v->storage.dtype = storage_dtype(t[1]->s, origin_);
    v->storage.numel = as_int(t[4], "storage size");
    if (v->storage.numel < 0) throw_data(origin_ + ": negative storage size");
    if (t.size() >= 6 && t[5]->kind == Value::Kind::kTuple && t[5]->items.size() == 3) {  // legacy view
      v->storage.view_offset = as_int(t[5]->items[1], "view offset");
      v->storage.view_numel = as_int(t[5]->items[2], "view size");
    }
    storages.push_back(v->storage);
    push(v);
  }

  ValuePtr make(Value::Kind kind) {
    if (made_.size() > (1u << 24)) throw_data(origin_ + ": pickle builds too many objects");
    made_.push_back(::deepl::io::make(kind));
    return made_.back();
  }

  std::string_view in_;
  std::string origin_;
  size_t pos_ = 0;
  std::vector<ValuePtr> made_;
  std::vector<ValuePtr> stack_;
  std::vector<size_t> marks_;
  std::map<uint64_t, ValuePtr> memo_;
};

// ------------------------------------------------------------------ containers

uint64_t read_le(std::string_view b, size_t at, int n) {
  uint64_t v = 0;
  for (int k = 0; k < n; ++k) v |= uint64_t{static_cast<uint8_t>(b[at + static_cast<size_t>(k)])} << (8 * k);
  return v;
}

// The entries of a zip archive as views into its bytes (torch.save stores them uncompressed).
std::map<std::string, std::string_view> zip_entries(std::string_view zip, const std::string& origin) {
  if (zip.size() < 22) throw_data(origin + ": truncated zip archive");
  size_t eocd = std::string_view::npos;
  for (size_t at = zip.size() - 22 + 1; at-- > 0 && zip.size() - at <= 22 + 65535;) {
    if (read_le(zip, at, 4) == 0x06054b50) {
      eocd = at;
      break;
    }
  }
  if (eocd == std::string_view::npos) throw_data(origin + ": truncated zip archive (no end of central directory)");
  const uint64_t count = read_le(zip, eocd + 10, 2), cd_size = read_le(zip, eocd + 12, 4), cd_offset = read_le(zip, eocd + 16, 4);
  if (cd_offset == 0xFFFFFFFF || count == 0xFFFF) throw_data(origin + ": zip64 archives are not supported");
  if (cd_offset + cd_size > eocd) throw_data(origin + ": corrupt zip archive (central directory out of range)");
  std::map<std::string, std::string_view> entries;
  size_t at = cd_offset;
  for (uint64_t e = 0; e < count; ++e) {
    if (at + 46 > eocd || read_le(zip, at, 4) != 0x02014b50) throw_data(origin + ": corrupt zip central directory");
    const uint64_t method = read_le(zip, at + 10, 2), size = read_le(zip, at + 20, 4), usize = read_le(zip, at + 24, 4);
    const uint64_t name_len = read_le(zip, at + 28, 2), extra = read_le(zip, at + 30, 2), comment = read_le(zip, at + 32, 2);
    const uint64_t local = read_le(zip, at + 42, 4);
    if (at + 46 + name_len > eocd) throw_data(origin + ": corrupt zip central directory");
    const std::string name(zip.substr(at + 46, name_len));
    if (method != 0 || size != usize) throw_data(origin + ": zip entry " + name + " is compressed; torch.save stores entries uncompressed");
    if (local + 30 > zip.size() || read_le(zip, local, 4) != 0x04034b50) throw_data(origin + ": corrupt zip local header for " + name);
    const uint64_t data = local + 30 + read_le(zip, local + 26, 2) + read_le(zip, local + 28, 2);
    if (data > zip.size() || size > zip.size() - data) throw_data(origin + ": truncated zip archive (entry " + name + " runs past the end)");
    entries[name] = zip.substr(data, size);
    at += 46 + name_len + extra + comment;
  }
  return entries;
}

torch::Tensor storage_from_bytes(std::string_view bytes, const StorageRef& ref, const std::string& origin) {
  const int64_t width = static_cast<int64_t>(c10::elementSize(ref.dtype));
  if (ref.numel > static_cast<int64_t>(bytes.size()) / width) {
    throw_data(fmt::format("{}: storage {} declares {} elements, the file holds {} bytes for it", origin, ref.key, ref.numel,
                           bytes.size()));
  }
  torch::Tensor t = torch::empty({ref.numel}, torch::TensorOptions().dtype(ref.dtype));
  if (ref.numel > 0) std::memcpy(t.data_ptr(), bytes.data(), static_cast<size_t>(ref.numel * width));
  return t;
}

torch::Tensor materialise(const TensorSpec& spec, const torch::Tensor& root, const std::string& name, const std::string& origin) {
  torch::Tensor storage = root;
  if (spec.storage.view_numel >= 0) {
    if (spec.storage.view_offset < 0 || spec.storage.view_offset + spec.storage.view_numel > root.numel()) {
      throw_data(origin + ": storage view of " + name + " lies outside its storage");
    }
    storage = root.narrow(0, spec.storage.view_offset, spec.storage.view_numel);
  }
  if (spec.sizes.size() != spec.strides.size()) throw_data(origin + ": " + name + " has sizes and strides of different ranks");
  int64_t last = spec.offset, count = 1;
  for (size_t d = 0; d < spec.sizes.size(); ++d) {
    if (spec.sizes[d] < 0 || spec.strides[d] < 0) throw_data(origin + ": " + name + " has a negative size or stride");
    count *= spec.sizes[d];
    if (spec.sizes[d] > 0) last += (spec.sizes[d] - 1) * spec.strides[d];
  }
  if (spec.offset < 0 || (count > 0 && last >= storage.numel())) {
    throw_data(fmt::format("{}: {} reaches element {} of a {}-element storage", origin, name, last, storage.numel()));
  }
  return storage.as_strided(spec.sizes, spec.strides, spec.offset);
}

// The state dict inside the unpickled object: the dict itself, or one nested under these keys.
const Value& find_state_dict(const ValuePtr& root, const std::string& origin, int depth = 0) {
  if (root->kind != Value::Kind::kDict) throw_data(origin + ": the pickle holds no dict of tensors");
  if (depth > 8) throw_data(origin + ": state dict nested too deep");
  bool all_tensors = !root->dict.empty();
  for (const auto& [k, v] : root->dict) all_tensors = all_tensors && k->kind == Value::Kind::kString && v->kind == Value::Kind::kTensor;
  if (all_tensors) return *root;
  for (const char* key : {"state_dict", "model", "model_state_dict"}) {
    for (const auto& [k, v] : root->dict) {
      if (k->kind == Value::Kind::kString && k->s == key && v->kind == Value::Kind::kDict) return find_state_dict(v, origin, depth + 1);
    }
  }
  throw_data(origin + ": not a state dict (a dict of tensors, or one under \"state_dict\" or \"model\")");
}

std::map<std::string, torch::Tensor> collect(const Value& dict, const std::map<std::string, torch::Tensor>& storages,
                                             const std::string& origin) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& [k, v] : dict.dict) {
    const auto it = storages.find(v->tensor.storage.key);
    if (it == storages.end()) throw_data(origin + ": storage " + v->tensor.storage.key + " of " + k->s + " is missing");
    out[k->s] = materialise(v->tensor, it->second, k->s, origin);
  }
  return out;
}

// The data.pkl of a zip archive, unpickled, with the storages it references.
struct ZipPickle {
  std::unique_ptr<Unpickler> unpickler;  // owns the values
  ValuePtr root;
  std::map<std::string, torch::Tensor> storages;
};

ZipPickle unpickle_zip(std::string_view bytes, const std::string& origin) {
  const auto entries = zip_entries(bytes, origin);
  std::string prefix;
  for (const auto& [name, data] : entries) {
    const auto slash = name.find('/');
    if (slash != std::string::npos && name.substr(slash) == "/data.pkl") prefix = name.substr(0, slash);
  }
  if (prefix.empty()) throw_data(origin + ": zip archive without a data.pkl (not a torch.save file)");
  ZipPickle z;
  z.unpickler = std::make_unique<Unpickler>(entries.at(prefix + "/data.pkl"), origin);
  z.root = z.unpickler->load();
  for (const auto& ref : z.unpickler->storages) {
    if (z.storages.count(ref.key)) continue;
    const auto it = entries.find(prefix + "/data/" + ref.key);
    if (it == entries.end()) throw_data(origin + ": storage " + ref.key + " is missing from the archive");
    z.storages[ref.key] = storage_from_bytes(it->second, ref, origin);
  }
  return z;
}

std::map<std::string, torch::Tensor> read_zip(std::string_view bytes, const std::string& origin) {
  const ZipPickle z = unpickle_zip(bytes, origin);
  return collect(find_state_dict(z.root, origin), z.storages, origin);
}

// Unpickled values as LibTorch IValues (generic lists and dicts). Nesting and the number of
// objects visited are capped: the memo can make a small pickle describe a cyclic or huge tree.
class IValueBuilder {
 public:
  IValueBuilder(const std::map<std::string, torch::Tensor>& storages, std::string origin)
      : storages_(storages), origin_(std::move(origin)) {}

  c10::IValue build(const Value& v, int depth = 0) {
    constexpr int kMaxDepth = 64;
    constexpr int64_t kMaxObjects = 1 << 22;
    if (depth > kMaxDepth) throw_data(fmt::format("{}: the pickle nests deeper than {} levels", origin_, kMaxDepth));
    if (++visited_ > kMaxObjects) throw_data(origin_ + ": the pickle describes too many objects");
    switch (v.kind) {
      case Value::Kind::kNone: return {};
      case Value::Kind::kBool: return v.b;
      case Value::Kind::kInt: return v.i;
      case Value::Kind::kFloat: return v.f;
      case Value::Kind::kString: return v.s;
      case Value::Kind::kTuple: {
        std::vector<c10::IValue> items;
        for (const auto& item : v.items) items.push_back(build(*item, depth + 1));
        return c10::ivalue::Tuple::create(std::move(items));
      }
      case Value::Kind::kList: {
        c10::impl::GenericList list(c10::AnyType::get());
        for (const auto& item : v.items) list.push_back(build(*item, depth + 1));
        return list;
      }
      case Value::Kind::kDict: {
        c10::impl::GenericDict dict(c10::AnyType::get(), c10::AnyType::get());
        for (const auto& [key, value] : v.dict) {
          c10::IValue k = build(*key, depth + 1);
          if (!k.isString() && !k.isInt()) throw_data(origin_ + ": a dict key in the pickle is not a string or integer");
          dict.insert_or_assign(std::move(k), build(*value, depth + 1));
        }
        return dict;
      }
      case Value::Kind::kTensor: {
        const auto it = storages_.find(v.tensor.storage.key);
        if (it == storages_.end()) throw_data(origin_ + ": storage " + v.tensor.storage.key + " is missing");
        return materialise(v.tensor, it->second, "a tensor", origin_);
      }
      default: throw_data(origin_ + ": the pickle holds a value of a kind deepl does not read");
    }
  }

 private:
  const std::map<std::string, torch::Tensor>& storages_;
  std::string origin_;
  int64_t visited_ = 0;
};

std::map<std::string, torch::Tensor> read_legacy(std::string_view bytes, const std::string& origin) {
  Unpickler magic(bytes, origin);
  const ValuePtr m = magic.load();
  static const std::string kMagic("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 10);  // 0x1950a86a20f9469cfc6c
  if (m->kind != Value::Kind::kBigInt || m->s != kMagic) throw_data(origin + ": not a PyTorch file (bad magic number)");
  size_t at = magic.position();
  auto next = [&](Unpickler& u) {
    const ValuePtr v = u.load();
    at += u.position();
    return v;
  };
  Unpickler protocol(bytes.substr(at), origin);
  const ValuePtr version = next(protocol);
  if (version->kind != Value::Kind::kInt || version->i != 1001) throw_data(origin + ": unsupported legacy protocol version");
  Unpickler sys_info(bytes.substr(at), origin);
  next(sys_info);
  Unpickler main(bytes.substr(at), origin);
  const ValuePtr root = next(main);
  Unpickler keys_pickle(bytes.substr(at), origin);
  const ValuePtr keys = next(keys_pickle);
  if (keys->kind != Value::Kind::kList) throw_data(origin + ": malformed storage key list");
  std::map<std::string, StorageRef> refs;
  for (const auto& r : main.storages) refs[r.key] = r;
  std::map<std::string, torch::Tensor> storages;
  for (const auto& key_value : keys->items) {
    if (key_value->kind != Value::Kind::kString) throw_data(origin + ": malformed storage key");
    const auto it = refs.find(key_value->s);
    if (it == refs.end()) throw_data(origin + ": storage " + key_value->s + " is not referenced");
    if (bytes.size() - at < 8) throw_data(origin + ": truncated legacy file (storage " + key_value->s + ")");
    const int64_t numel = static_cast<int64_t>(read_le(bytes, at, 8));
    at += 8;
    StorageRef ref = it->second;
    if (numel != ref.numel) throw_data(origin + ": storage " + ref.key + " size disagrees with its pickle");
    const int64_t width = static_cast<int64_t>(c10::elementSize(ref.dtype));
    if (numel < 0 || numel > static_cast<int64_t>(bytes.size() - at) / width) {
      throw_data(fmt::format("{}: truncated legacy file (storage {} needs {} bytes)", origin, ref.key, numel * width));
    }
    storages[ref.key] = storage_from_bytes(bytes.substr(at, static_cast<size_t>(numel * width)), ref, origin);
    at += static_cast<size_t>(numel * width);
  }
  return collect(find_state_dict(root, origin), storages, origin);
}

}  // namespace

std::map<std::string, torch::Tensor> read_state_dict_bytes(const std::string& bytes, const std::string& origin) {
  if (bytes.size() >= 4 && bytes.compare(0, 4, "PK\x03\x04") == 0) return read_zip(bytes, origin);
  if (bytes.size() >= 2 && static_cast<uint8_t>(bytes[0]) == 0x80) return read_legacy(bytes, origin);
  throw_data(origin + ": not a PyTorch file (neither a zip archive nor a legacy pickle)");
}

c10::IValue read_pickle_archive(const std::string& bytes, const std::string& origin) {
  if (bytes.size() < 4 || bytes.compare(0, 4, "PK\x03\x04") != 0) throw_data(origin + ": not a zip archive");
  const ZipPickle z = unpickle_zip(bytes, origin);
  return IValueBuilder(z.storages, origin).build(*z.root);
}

std::map<std::string, torch::Tensor> read_state_dict(const std::filesystem::path& path, const ReadLimits& limits) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw_data(path.string() + ": cannot read: " + ec.message());
  if (size > limits.max_file_bytes) {
    throw_data(fmt::format("{}: {} bytes, over the {}-byte limit", path.string(), size, limits.max_file_bytes));
  }
  return read_state_dict_bytes(read_file(path), path.string());
}

void write_state_dict(const std::filesystem::path& path, const std::map<std::string, torch::Tensor>& tensors) {
  c10::Dict<std::string, torch::Tensor> dict;
  for (const auto& [name, t] : tensors) dict.insert(name, t.detach().contiguous());
  const std::vector<char> bytes = torch::pickle_save(dict);
  write_file_atomic(path, std::string_view(bytes.data(), bytes.size()));
}

}  // namespace deepl::io
