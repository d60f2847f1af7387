// ImageDecoder (opset 20+): decodes an encoded image (uint8 bytes) into uint8 [H, W, 3] (RGB or BGR) or [H, W, 1]
// (Grayscale). PNG through libpng, JPEG through libjpeg (Debian's libjpeg-turbo, the decoder Pillow uses: ONNX's
// reference implementation is Pillow), WebP through libwebp, TIFF through libtiff, JPEG 2000 through openjpeg, BMP
// (uncompressed 24/32-bit) and binary PNM (P5/P6, 8-bit) read here.
// Grayscale from color is Pillow's "L" conversion: (19595 R + 38470 G + 7471 B + 32768) >> 16. Other formats are
// refused with a message listing the decoded ones.
#include <algorithm>
#include <cctype>
#include <climits>
#include <csetjmp>
#include <cstddef>
#include <cstdio>
#include <cstring>
// jpeglib.h needs size_t and FILE declared before it.
#include <jpeglib.h>
#include <openjpeg.h>
#include <png.h>
#include <tiffio.h>
#include <webp/decode.h>

#include <string>
#include <vector>

#include "ops/common/op_utils.h"
#include "ops/registry.h"

namespace tessera {
namespace {

// An RGB image, 3 bytes per pixel, rows top to bottom.
struct Rgb {
  int64_t height = 0, width = 0;
  std::vector<uint8_t> pixels;
};

// Largest decoded image (RGB bytes) accepted: a stream's header can claim any size.
constexpr int64_t kMaxDecodedBytes = int64_t{1} << 31;

void check_decoded_size(int64_t height, int64_t width) {
  check_argument(height * width * 3 <= kMaxDecodedBytes, "the image is ", width, "x", height,
                 " pixels, more than 2 GiB decoded");
}

bool starts_with(const uint8_t* data, size_t size, const char* magic, size_t length) {
  return size >= length && std::memcmp(data, magic, length) == 0;
}

Rgb decode_png(const uint8_t* data, size_t size) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, data, size))
    fail(ErrorCode::kInvalidArgument, "bad PNG: ", image.message);
  image.format = PNG_FORMAT_RGB;
  Rgb out;
  out.height = image.height;
  out.width = image.width;
  check_decoded_size(out.height, out.width);
  out.pixels.resize(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, out.pixels.data(), 0, nullptr)) {
    const std::string message = image.message;
    png_image_free(&image);
    fail(ErrorCode::kInvalidArgument, "bad PNG: ", message);
  }
  return out;
}

// libjpeg reports errors through error_exit, which must not return: it jumps back to decode_jpeg.
struct JpegError {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_error_exit(j_common_ptr info) {
  auto* error = reinterpret_cast<JpegError*>(info->err);
  (*info->err->format_message)(info, error->message);
  std::longjmp(error->jump, 1);
}

// Decodes into `out` (no objects with destructors live between setjmp and a longjmp); false with `message` set
// on a corrupt stream.
bool decode_jpeg_into(const uint8_t* data, size_t size, Rgb& out, std::string& message) {
  jpeg_decompress_struct info;
  JpegError error;
  info.err = jpeg_std_error(&error.manager);
  error.manager.error_exit = jpeg_error_exit;
  if (setjmp(error.jump)) {
    jpeg_destroy_decompress(&info);
    message = error.message;
    return false;
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, data, static_cast<unsigned long>(size));
  jpeg_read_header(&info, TRUE);
  info.out_color_space = JCS_RGB;
  jpeg_start_decompress(&info);
  out.height = info.output_height;
  out.width = info.output_width;
  if (out.height * out.width * 3 > kMaxDecodedBytes) {
    jpeg_destroy_decompress(&info);
    message = std::to_string(out.width) + "x" + std::to_string(out.height) + " pixels is more than 2 GiB decoded";
    return false;
  }
  out.pixels.resize(static_cast<size_t>(out.height * out.width * 3));
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = out.pixels.data() + static_cast<size_t>(info.output_scanline) * out.width * 3;
    jpeg_read_scanlines(&info, &row, 1);
  }
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  return true;
}

Rgb decode_jpeg(const uint8_t* data, size_t size) {
  Rgb out;
  std::string message;
  if (!decode_jpeg_into(data, size, out, message)) fail(ErrorCode::kInvalidArgument, "bad JPEG: ", message);
  return out;
}

Rgb decode_webp(const uint8_t* data, size_t size) {
  int width = 0, height = 0;
  check_argument(WebPGetInfo(data, size, &width, &height) != 0, "bad WebP stream");
  check_decoded_size(height, width);
  Rgb out;
  out.height = height;
  out.width = width;
  out.pixels.resize(static_cast<size_t>(out.height * out.width * 3));
  check_argument(WebPDecodeRGBInto(data, size, out.pixels.data(), out.pixels.size(), width * 3) != nullptr,
                 "bad WebP stream");
  return out;
}

// A read cursor over an encoded stream in memory, for the decoders that read through callbacks (libtiff, openjpeg).
struct MemoryStream {
  const uint8_t* data;
  size_t size;
  size_t pos = 0;

  // Copies up to `count` bytes from the cursor into `buffer` and advances; returns how many (0 at the end).
  size_t read(void* buffer, size_t count) {
    const size_t n = std::min(count, size - std::min(pos, size));
    std::memcpy(buffer, data + pos, n);
    pos += n;
    return n;
  }
};

tsize_t tiff_read(thandle_t handle, tdata_t buffer, tsize_t count) {
  return static_cast<tsize_t>(static_cast<MemoryStream*>(handle)->read(buffer, static_cast<size_t>(count)));
}
tsize_t tiff_write(thandle_t, tdata_t, tsize_t) { return 0; }
toff_t tiff_seek(thandle_t handle, toff_t offset, int whence) {
  auto* s = static_cast<MemoryStream*>(handle);
  const uint64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? s->pos : s->size;
  s->pos = static_cast<size_t>(base + offset);
  return s->pos;
}
int tiff_close(thandle_t) { return 0; }
toff_t tiff_size(thandle_t handle) { return static_cast<MemoryStream*>(handle)->size; }
int tiff_map(thandle_t, tdata_t*, toff_t*) { return 0; }
void tiff_unmap(thandle_t, tdata_t, toff_t) {}

// The first image of a TIFF stream, through libtiff's RGBA interface (any photometric, bit depth, compression).
Rgb decode_tiff(const uint8_t* data, size_t size) {
  TIFFSetErrorHandler(nullptr);  // errors come back as return values, not as messages on stderr
  TIFFSetWarningHandler(nullptr);
  MemoryStream stream{data, size};
  TIFF* tiff = TIFFClientOpen("stream", "rm", &stream, tiff_read, tiff_write, tiff_seek, tiff_close, tiff_size,
                              tiff_map, tiff_unmap);
  check_argument(tiff != nullptr, "bad TIFF stream");
  uint32_t width = 0, height = 0;
  TIFFGetField(tiff, TIFFTAG_IMAGEWIDTH, &width);
  TIFFGetField(tiff, TIFFTAG_IMAGELENGTH, &height);
  Rgb out;
  out.height = height;
  out.width = width;
  if (width == 0 || height == 0 || out.height * out.width * 3 > kMaxDecodedBytes) {
    TIFFClose(tiff);
    fail(ErrorCode::kInvalidArgument, "bad TIFF size ", width, "x", height);
  }
  std::vector<uint32_t> rgba(static_cast<size_t>(out.height * out.width));
  const int ok = TIFFReadRGBAImageOriented(tiff, width, height, rgba.data(), ORIENTATION_TOPLEFT, 0);
  TIFFClose(tiff);
  check_argument(ok != 0, "bad TIFF image data");
  out.pixels.resize(rgba.size() * 3);
  for (size_t i = 0; i < rgba.size(); ++i) {
    out.pixels[i * 3] = static_cast<uint8_t>(TIFFGetR(rgba[i]));
    out.pixels[i * 3 + 1] = static_cast<uint8_t>(TIFFGetG(rgba[i]));
    out.pixels[i * 3 + 2] = static_cast<uint8_t>(TIFFGetB(rgba[i]));
  }
  return out;
}

// openjpeg reads the stream through these callbacks, from a MemoryStream.
OPJ_SIZE_T opj_read(void* buffer, OPJ_SIZE_T count, void* user) {
  auto* s = static_cast<MemoryStream*>(user);
  if (s->pos >= s->size) return static_cast<OPJ_SIZE_T>(-1);  // openjpeg's end of stream
  return s->read(buffer, count);
}
OPJ_OFF_T opj_skip(OPJ_OFF_T count, void* user) {
  auto* s = static_cast<MemoryStream*>(user);
  const auto target = std::clamp<int64_t>(static_cast<int64_t>(s->pos) + count, 0, static_cast<int64_t>(s->size));
  const OPJ_OFF_T moved = target - static_cast<int64_t>(s->pos);
  s->pos = static_cast<size_t>(target);
  return moved;
}
OPJ_BOOL opj_seek(OPJ_OFF_T offset, void* user) {
  auto* s = static_cast<MemoryStream*>(user);
  if (offset < 0 || static_cast<uint64_t>(offset) > s->size) return OPJ_FALSE;
  s->pos = static_cast<size_t>(offset);
  return OPJ_TRUE;
}

// Why an opened JPEG 2000 image cannot become RGB bytes ("" when it can): 1 (gray) or 3+ (RGB first) 8-bit,
// unsubsampled components.
std::string jpeg2000_problem(const opj_image_t& image) {
  if (image.numcomps == 0 || image.comps[0].w == 0 || image.comps[0].h == 0) return "empty JPEG 2000 image";
  const OPJ_UINT32 channels = image.numcomps >= 3 ? 3 : 1;
  for (OPJ_UINT32 c = 0; c < channels; ++c) {
    const opj_image_comp_t& comp = image.comps[c];
    if (comp.w != image.comps[0].w || comp.h != image.comps[0].h || comp.prec != 8 || comp.data == nullptr) {
      return "JPEG 2000 components other than 8-bit unsubsampled ones are not supported";
    }
  }
  if (static_cast<int64_t>(image.comps[0].w) * image.comps[0].h * 3 > kMaxDecodedBytes)
    return "JPEG 2000 image over 2 GiB";
  return "";
}

// A JPEG 2000 stream: a JP2 container (`container`) or a raw codestream.
Rgb decode_jpeg2000(const uint8_t* data, size_t size, bool container) {
  MemoryStream cursor{data, size};
  opj_codec_t* codec = opj_create_decompress(container ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K);
  opj_stream_t* stream = opj_stream_default_create(OPJ_TRUE);
  opj_stream_set_user_data(stream, &cursor, nullptr);
  opj_stream_set_user_data_length(stream, size);
  opj_stream_set_read_function(stream, opj_read);
  opj_stream_set_skip_function(stream, opj_skip);
  opj_stream_set_seek_function(stream, opj_seek);
  opj_dparameters_t parameters;
  opj_set_default_decoder_parameters(&parameters);
  opj_image_t* image = nullptr;
  const bool ok = opj_setup_decoder(codec, &parameters) && opj_read_header(stream, codec, &image) &&
                  opj_decode(codec, stream, image) && opj_end_decompress(codec, stream);
  opj_stream_destroy(stream);
  opj_destroy_codec(codec);
  const std::string problem = ok ? jpeg2000_problem(*image) : "bad JPEG 2000 stream";
  Rgb out;
  if (problem.empty()) {
    out.width = image->comps[0].w;
    out.height = image->comps[0].h;
    const bool color = image->numcomps >= 3;
    out.pixels.resize(static_cast<size_t>(out.height * out.width * 3));
    for (int64_t i = 0; i < out.height * out.width; ++i) {
      for (int c = 0; c < 3; ++c) {
        const OPJ_INT32 v = image->comps[color ? c : 0].data[i];
        out.pixels[static_cast<size_t>(i * 3 + c)] = static_cast<uint8_t>(std::clamp<OPJ_INT32>(v, 0, 255));
      }
    }
  }
  if (image != nullptr) opj_image_destroy(image);
  check_argument(problem.empty(), problem);
  return out;
}

uint32_t little_endian(const uint8_t* p, int bytes) {
  uint32_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Uncompressed BMP (BI_RGB) of 24 or 32 bits per pixel, bottom-up or top-down rows padded to 4 bytes.
Rgb decode_bmp(const uint8_t* data, size_t size) {
  check_argument(size >= 54, "bad BMP: ", size, " bytes is shorter than its headers");
  const uint32_t offset = little_endian(data + 10, 4);
  const auto width = static_cast<int32_t>(little_endian(data + 18, 4));
  const auto height = static_cast<int32_t>(little_endian(data + 22, 4));
  const uint32_t bits = little_endian(data + 28, 2), compression = little_endian(data + 30, 4);
  check_argument((bits == 24 || bits == 32) && (compression == 0 || (compression == 3 && bits == 32)), "BMP with ",
                 bits, " bits per pixel and compression ", compression, " is not supported (24/32-bit)");
  check_argument(width > 0 && height != 0 && height != INT32_MIN, "bad BMP size ", width, "x", height);
  const int64_t rows = height < 0 ? -static_cast<int64_t>(height) : height;
  const int64_t stride = (static_cast<int64_t>(width) * (bits / 8) + 3) / 4 * 4;
  check_argument(offset <= size && static_cast<uint64_t>(rows) <= (size - offset) / static_cast<uint64_t>(stride),
                 "bad BMP: ", width, "x", rows, " pixels past the end of the stream");
  Rgb out;
  out.height = rows;
  out.width = width;
  out.pixels.resize(static_cast<size_t>(rows * width * 3));
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* src = data + offset + (height < 0 ? r : rows - 1 - r) * stride;
    uint8_t* dst = out.pixels.data() + r * width * 3;
    for (int64_t c = 0; c < width; ++c, src += bits / 8, dst += 3) {
      dst[0] = src[2];  // stored blue, green, red
      dst[1] = src[1];
      dst[2] = src[0];
    }
  }
  return out;
}

// Binary PNM: P6 (RGB) or P5 (gray, expanded to RGB), maxval 255.
Rgb decode_pnm(const uint8_t* data, size_t size) {
  size_t pos = 2;
  const auto next_number = [&]() -> int64_t {
    while (pos < size && (std::isspace(data[pos]) || data[pos] == '#')) {
      if (data[pos] == '#') {
        while (pos < size && data[pos] != '\n') ++pos;
      } else {
        ++pos;
      }
    }
    int64_t v = 0;
    bool any = false;
    while (pos < size && std::isdigit(data[pos]) && v < (int64_t{1} << 40)) {
      v = v * 10 + (data[pos++] - '0');
      any = true;
    }
    check_argument(any, "bad PNM header");
    return v;
  };
  const bool color = data[1] == '6';
  const int64_t width = next_number(), height = next_number(), maxval = next_number();
  ++pos;  // the single whitespace after maxval
  check_argument(maxval == 255, "PNM with maxval ", maxval, " is not supported (8-bit only)");
  const int64_t channels = color ? 3 : 1;
  check_argument(width > 0 && height > 0 && pos <= size && static_cast<uint64_t>(width) <= size &&
                     static_cast<uint64_t>(height) <= (size - pos) / static_cast<uint64_t>(width * channels),
                 "bad PNM: ", width, "x", height, " pixels past the end of the stream");
  Rgb out;
  out.height = height;
  out.width = width;
  out.pixels.resize(static_cast<size_t>(width * height * 3));
  for (int64_t i = 0; i < width * height; ++i) {
    for (int c = 0; c < 3; ++c) out.pixels[static_cast<size_t>(i * 3 + c)] = data[pos + i * channels + (color ? c : 0)];
  }
  return out;
}

Rgb decode_image(const uint8_t* data, size_t size) {
  if (starts_with(data, size, "\x89PNG", 4)) return decode_png(data, size);
  if (starts_with(data, size, "\xff\xd8\xff", 3)) return decode_jpeg(data, size);
  if (starts_with(data, size, "BM", 2)) return decode_bmp(data, size);
  if (starts_with(data, size, "P6", 2) || starts_with(data, size, "P5", 2)) return decode_pnm(data, size);
  if (size >= 12 && std::memcmp(data, "RIFF", 4) == 0 && std::memcmp(data + 8, "WEBP", 4) == 0) {
    return decode_webp(data, size);
  }
  if (starts_with(data, size, "II*\0", 4) || starts_with(data, size, "MM\0*", 4)) return decode_tiff(data, size);
  if (starts_with(data, size, "\0\0\0\x0cjP", 6)) return decode_jpeg2000(data, size, true);
  if (starts_with(data, size, "\xff\x4f\xff\x51", 4)) return decode_jpeg2000(data, size, false);
  fail(ErrorCode::kUnsupported, "ImageDecoder: the stream is in an unrecognized format",
       "; Tessera decodes PNG, JPEG, JPEG 2000, WebP, TIFF, BMP (24/32-bit) and binary PNM (P5/P6)");
}

std::unique_ptr<Kernel> make_image_decoder(const KernelInfo& info) {
  const std::string format = info.node.attr_string("pixel_format", "RGB");
  check_model(format == "RGB" || format == "BGR" || format == "Grayscale", info.node.label(),
              ": pixel_format must be RGB, BGR or Grayscale, got '", format, "'");
  return make_kernel([format](KernelContext& ctx) {
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DType::kUint8 || x.rank() != 1) {
      fail(ErrorCode::kInvalidArgument, ctx.node().label(), ": input 0 must be uint8[N] encoded bytes, got ",
           x.description());
    }
    Rgb image;
    try {
      image = decode_image(x.data<uint8_t>(), static_cast<size_t>(x.element_count()));
    } catch (const Error& e) {
      fail(e.code(), ctx.node().label(), ": ", e.what());
    }
    const int64_t pixels = image.height * image.width;
    if (format == "Grayscale") {
      Tensor& y = ctx.allocate_output_uninitialized(0, DType::kUint8, {image.height, image.width, 1});
      const uint8_t* p = image.pixels.data();
      for (int64_t i = 0; i < pixels; ++i, p += 3) {
        y.data<uint8_t>()[i] = static_cast<uint8_t>((p[0] * 19595 + p[1] * 38470 + p[2] * 7471 + 0x8000) >> 16);
      }
      return;
    }
    Tensor& y = ctx.allocate_output_uninitialized(0, DType::kUint8, {image.height, image.width, 3});
    uint8_t* out = y.data<uint8_t>();
    const bool bgr = format == "BGR";
    for (int64_t i = 0; i < pixels; ++i) {
      for (int c = 0; c < 3; ++c) out[i * 3 + c] = image.pixels[static_cast<size_t>(i * 3 + (bgr ? 2 - c : c))];
    }
  });
}

void infer_image_decoder(InferenceContext& ctx) {
  const bool gray = ctx.node().attr_string("pixel_format", "RGB") == "Grayscale";
  ctx.set_output_type(0, TypeInfo::tensor(DType::kUint8, std::vector<Dim>{Dim{}, Dim{}, Dim::known(gray ? 1 : 3)}));
}

const RegisterOp kImageDecoder{{.domain = "",
                                .op_type = "ImageDecoder",
                                .since_version = 20,
                                .last_version = INT_MAX,
                                .factory = make_image_decoder,
                                .infer = infer_image_decoder}};

}  // namespace
}  // namespace tessera
