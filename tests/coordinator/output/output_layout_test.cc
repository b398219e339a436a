#include "coordinator/output/output_layout.h"

#include <gtest/gtest.h>

namespace pixelmill {
namespace {

TEST(OutputLayoutTest, AnImageIsNamedByItsIdAndFormat) {
  EXPECT_EQ(OutputLayout::ImagePath(42, OutputFormat::kWebp, false), "images/42.webp");
  EXPECT_EQ(OutputLayout::ImagePath(-7, OutputFormat::kJpeg, false), "images/-7.jpg");
}

TEST(OutputLayoutTest, AFannedOutImageIsInItsIdsSubfolder) {
  EXPECT_EQ(OutputLayout::ImagePath(42, OutputFormat::kWebp, true),
            "images/" + FanOutFolder(42) + "/42.webp");
  EXPECT_EQ(FanOutFolder(42).size(), 5u);
  EXPECT_EQ(FanOutFolder(42)[2], '/');
  EXPECT_EQ(FanOutFolder(42), FanOutFolder(42));
  EXPECT_NE(FanOutFolder(42), FanOutFolder(43));
}

TEST(OutputLayoutTest, TheRunsFilesLieDirectlyInTheFolder) {
  const OutputLayout out("/tmp/out");
  EXPECT_EQ(out.manifest(), "/tmp/out/manifest.jsonl");
  EXPECT_EQ(out.rejects(), "/tmp/out/rejects.jsonl");
  EXPECT_EQ(out.run_state(), "/tmp/out/run.json");
  EXPECT_EQ(out.lock(), "/tmp/out/.lock");
  EXPECT_EQ(out.images(), "/tmp/out/images");
  EXPECT_EQ(out.Path(OutputLayout::ImagePath(1, OutputFormat::kPng, false)),
            "/tmp/out/images/1.png");
}

}  // namespace
}  // namespace pixelmill
