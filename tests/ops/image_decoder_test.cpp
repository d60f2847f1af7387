// Tests of ImageDecoder beyond the onnx 1.23 node tests (which check PNG, JPEG in RGB/BGR/Grayscale, BMP and PNM
// against Pillow): hand-built BMP and PNM streams decode exactly in every pixel format, and corrupt or hostile
// streams (truncated JPEG, PNG, TIFF and JPEG 2000, a BMP header claiming a huge image, an unsupported format)
// are clear errors.
#include <gtest/gtest.h>

#include "nn_test_util.h"

namespace tessera {
namespace {

using namespace nn_test;

Tensor bytes_tensor(const std::vector<uint8_t>& bytes) { return Tensor::from_vector<uint8_t>(DType::kUint8, bytes); }

void put32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * i));
}

// A 24-bit bottom-up BMP of 2 rows x 3 columns; pixel (r, c) has RGB (10 r + c, 100 + c, 200 - r).
std::vector<uint8_t> tiny_bmp(int32_t claimed_height = 2) {
  const uint32_t stride = 12;  // 3 pixels x 3 bytes = 9, padded to 12
  std::vector<uint8_t> b(54 + stride * 2, 0);
  b[0] = 'B';
  b[1] = 'M';
  put32(b, 2, static_cast<uint32_t>(b.size()));
  put32(b, 10, 54);
  put32(b, 14, 40);
  put32(b, 18, 3);
  put32(b, 22, static_cast<uint32_t>(claimed_height));
  b[26] = 1;
  b[28] = 24;
  for (int r = 0; r < 2; ++r) {
    const size_t row = 54 + (1 - r) * stride;  // bottom-up
    for (int c = 0; c < 3; ++c) {
      b[row + c * 3 + 0] = static_cast<uint8_t>(200 - r);     // blue
      b[row + c * 3 + 1] = static_cast<uint8_t>(100 + c);     // green
      b[row + c * 3 + 2] = static_cast<uint8_t>(10 * r + c);  // red
    }
  }
  return b;
}

TEST(ImageDecoderTest, BmpDecodesInEveryPixelFormat) {
  const Tensor rgb = run_op("ImageDecoder", 20, {}, {bytes_tensor(tiny_bmp())})[0];
  ASSERT_EQ(rgb.shape(), (std::vector<int64_t>{2, 3, 3}));
  const Tensor bgr = run_op("ImageDecoder", 20, {string_attr("pixel_format", "BGR")}, {bytes_tensor(tiny_bmp())})[0];
  const Tensor gray =
      run_op("ImageDecoder", 20, {string_attr("pixel_format", "Grayscale")}, {bytes_tensor(tiny_bmp())})[0];
  ASSERT_EQ(gray.shape(), (std::vector<int64_t>{2, 3, 1}));
  for (int r = 0; r < 2; ++r) {
    for (int c = 0; c < 3; ++c) {
      const int R = 10 * r + c, G = 100 + c, B = 200 - r, i = (r * 3 + c) * 3;
      EXPECT_EQ(rgb.data<uint8_t>()[i], R);
      EXPECT_EQ(rgb.data<uint8_t>()[i + 1], G);
      EXPECT_EQ(rgb.data<uint8_t>()[i + 2], B);
      EXPECT_EQ(bgr.data<uint8_t>()[i], B);
      EXPECT_EQ(bgr.data<uint8_t>()[i + 2], R);
      EXPECT_EQ(gray.data<uint8_t>()[r * 3 + c], (R * 19595 + G * 38470 + B * 7471 + 0x8000) >> 16);
    }
  }
}

TEST(ImageDecoderTest, PnmGrayAndColor) {
  std::vector<uint8_t> p5 = {'P', '5', '\n', '#', ' ', 'c', '\n', '2', ' ', '1', '\n', '2', '5', '5', '\n', 7, 250};
  const Tensor y = run_op("ImageDecoder", 20, {}, {bytes_tensor(p5)})[0];
  ASSERT_EQ(y.shape(), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(y.data<uint8_t>()[0], 7);
  EXPECT_EQ(y.data<uint8_t>()[2], 7);
  EXPECT_EQ(y.data<uint8_t>()[3], 250);
}

TEST(ImageDecoderTest, CorruptAndHostileStreamsAreClearErrors) {
  const std::vector<uint8_t> truncated_jpeg = {0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F'};
  EXPECT_EQ(error_code_of([&] { run_op("ImageDecoder", 20, {}, {bytes_tensor(truncated_jpeg)}); }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([&] { run_op("ImageDecoder", 20, {}, {bytes_tensor(tiny_bmp(1 << 30))}); }),
            ErrorCode::kInvalidArgument);
  const std::vector<uint8_t> bad_tiff = {'I', 'I', '*', 0, 8, 0, 0, 0};
  EXPECT_EQ(error_code_of([&] { run_op("ImageDecoder", 20, {}, {bytes_tensor(bad_tiff)}); }),
            ErrorCode::kInvalidArgument);
  const std::vector<uint8_t> bad_jpeg2000 = {0xff, 0x4f, 0xff, 0x51, 0, 0};
  EXPECT_EQ(error_code_of([&] { run_op("ImageDecoder", 20, {}, {bytes_tensor(bad_jpeg2000)}); }),
            ErrorCode::kInvalidArgument);
  const std::vector<uint8_t> gif = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0};
  EXPECT_EQ(error_code_of([&] { run_op("ImageDecoder", 20, {}, {bytes_tensor(gif)}); }), ErrorCode::kUnsupported);
  const std::vector<uint8_t> bad_png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0};
  EXPECT_EQ(error_code_of([&] { run_op("ImageDecoder", 20, {}, {bytes_tensor(bad_png)}); }),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_of([] {
              run_op("ImageDecoder", 20, {string_attr("pixel_format", "CMYK")}, {Tensor(DType::kUint8, {4})});
            }),
            ErrorCode::kInvalidModel);
}

}  // namespace
}  // namespace tessera
