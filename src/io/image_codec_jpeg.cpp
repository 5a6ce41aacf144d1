// JPEG through libjpeg-turbo's classic API. libjpeg reports errors by calling error_exit, which
// must not return: ours longjmps back to the setjmp of read_header or read_pixels, functions that
// hold nothing with a destructor, so the jump crosses only libjpeg's C frames. C++ objects (the
// pixel buffer, the JpegState that destroys the decompressor) live in their callers. Messages and
// warnings are never printed.
#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <csetjmp>
#include <cstdio>
#include <cstring>
// jpeglib.h needs FILE and size_t declared first.
#include <jerror.h>
#include <jpeglib.h>

#include "deepl/core/error.h"
#include "image_codec_formats.h"

namespace deepl::io {

namespace {

// A progressive JPEG of a few KB can hold thousands of scans and take minutes to decode; real
// encoders write at most a few dozen.
constexpr int kMaxScans = 500;

struct JpegErrors {
  jpeg_error_mgr manager;  // first, so the jpeg_error_mgr* libjpeg holds is a JpegErrors*
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

JpegErrors& errors_of(j_common_ptr cinfo) { return *reinterpret_cast<JpegErrors*>(cinfo->err); }

[[noreturn]] void on_error_exit(j_common_ptr cinfo) {
  (*cinfo->err->format_message)(cinfo, errors_of(cinfo).message);
  std::longjmp(errors_of(cinfo).jump, 1);
}

// Warnings (level -1) are corrupt-data notices libjpeg decodes past; the end of the data coming
// before the end of the image is a truncated file, refused. Trace messages (level >= 0) are ignored.
void on_emit_message(j_common_ptr cinfo, int level) {
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) on_error_exit(cinfo);
}

void on_output_message(j_common_ptr) {}

void on_progress(j_common_ptr cinfo) {
  if (reinterpret_cast<j_decompress_ptr>(cinfo)->input_scan_number <= kMaxScans) return;
  std::snprintf(errors_of(cinfo).message, JMSG_LENGTH_MAX, "more than %d scans", kMaxScans);
  std::longjmp(errors_of(cinfo).jump, 1);
}

// One decompressor, destroyed (with all libjpeg allocated) whichever way its owner's scope ends.
struct JpegState {
  jpeg_decompress_struct cinfo;
  JpegErrors errors;
  jpeg_progress_mgr progress;

  JpegState() {
    std::memset(&cinfo, 0, sizeof cinfo);  // mem == nullptr: destroying before create is a no-op
    std::memset(&progress, 0, sizeof progress);
    cinfo.err = jpeg_std_error(&errors.manager);
    errors.manager.error_exit = on_error_exit;
    errors.manager.emit_message = on_emit_message;
    errors.manager.output_message = on_output_message;
    errors.message[0] = '\0';
    progress.progress_monitor = on_progress;
  }
  ~JpegState() { jpeg_destroy_decompress(&cinfo); }
  JpegState(const JpegState&) = delete;
  JpegState& operator=(const JpegState&) = delete;
};

// Reads the markers up to the first scan. False (message in state.errors) when libjpeg failed.
bool read_header(JpegState& state, std::string_view bytes) {
  if (setjmp(state.errors.jump)) return false;
  jpeg_create_decompress(&state.cinfo);
  state.cinfo.progress = &state.progress;
  jpeg_mem_src(&state.cinfo, reinterpret_cast<const unsigned char*>(bytes.data()),
               static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&state.cinfo, TRUE);
  return true;
}

// Decodes every row into `pixels` (output_height rows of row_bytes). False (message in
// state.errors) when libjpeg failed or the output is not the size the header promised.
bool read_pixels(JpegState& state, uint8_t* pixels, size_t row_bytes) {
  if (setjmp(state.errors.jump)) return false;
  jpeg_start_decompress(&state.cinfo);
  if (state.cinfo.output_width * static_cast<size_t>(state.cinfo.output_components) != row_bytes) {
    std::snprintf(state.errors.message, JMSG_LENGTH_MAX, "unexpected output size");
    return false;
  }
  while (state.cinfo.output_scanline < state.cinfo.output_height) {
    JSAMPROW row = pixels + state.cinfo.output_scanline * row_bytes;
    if (jpeg_read_scanlines(&state.cinfo, &row, 1) != 1) {
      std::snprintf(state.errors.message, JMSG_LENGTH_MAX, "decoding stopped early");
      return false;
    }
  }
  jpeg_finish_decompress(&state.cinfo);
  return true;
}

[[noreturn]] void throw_damaged(const JpegState& state, const std::string& origin) {
  throw_data(fmt::format("{}: a damaged JPEG image ({})", origin, state.errors.message));
}

// Sets the output colour space the file's own (gray or RGB) and returns its channels; CMYK and
// other colour spaces are refused.
int choose_output(JpegState& state, const std::string& origin) {
  jpeg_decompress_struct& cinfo = state.cinfo;
  switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
      cinfo.out_color_space = JCS_GRAYSCALE;
      return 1;
    case JCS_YCbCr:
    case JCS_RGB:
      cinfo.out_color_space = JCS_RGB;
      return 3;
    case JCS_CMYK:
    case JCS_YCCK:
      throw_data(origin + ": a CMYK JPEG (as printing software writes), which deepl does not read: save it as RGB");
    default:
      throw_data(fmt::format("{}: a JPEG with {} colour components of an unknown colour space, which deepl does not read",
                             origin, cinfo.num_components));
  }
}

ImageHeader read_checked_header(JpegState& state, std::string_view bytes, const std::string& origin) {
  if (!read_header(state, bytes)) throw_damaged(state, origin);
  const int channels = choose_output(state, origin);
  return {ImageFormat::kJpeg, state.cinfo.image_width, state.cinfo.image_height, channels};
}

}  // namespace

namespace detail {

ImageHeader jpeg_header(std::string_view bytes, const std::string& origin) {
  JpegState state;
  return read_checked_header(state, bytes, origin);
}

RawImage jpeg_decode(std::string_view bytes, const std::string& origin, const ImageLimits& limits) {
  JpegState state;
  const ImageHeader header = read_checked_header(state, bytes, origin);
  check_image_size(header.width, header.height, origin, limits);
  // libjpeg's whole-image buffers (a progressive file's coefficients, 2 bytes a sample) get 8 bytes
  // a pixel of the cap, plus room for its tables; past that it fails instead of allocating.
  state.cinfo.mem->max_memory_to_use =
      static_cast<long>(std::min<int64_t>(limits.max_pixels, LONG_MAX / 16) * 8 + (int64_t{64} << 20));
  RawImage raw{header.width, header.height, header.channels, {}};
  const size_t row_bytes = static_cast<size_t>(header.width) * header.channels;
  raw.pixels.resize(row_bytes * header.height);
  if (!read_pixels(state, raw.pixels.data(), row_bytes)) throw_damaged(state, origin);
  return raw;
}

}  // namespace detail

}  // namespace deepl::io
