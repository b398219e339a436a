#include "common/base/peer_text.h"

#include <string>

#include <gtest/gtest.h>

namespace pixelmill {
namespace {

TEST(PeerTextTest, PrintableAsciiPassesAndEverythingElseIsEscaped) {
  EXPECT_EQ(PeerText("host-1:4242:0a1b (ok)"), "host-1:4242:0a1b (ok)");
  EXPECT_EQ(PeerText("a\nb\rc\td"), "a\\nb\\rc\\td");
  EXPECT_EQ(PeerText("\x1b[2J"), "\\x1b[2J");
  EXPECT_EQ(PeerText(std::string("nul\0del\x7f\xc3\xa9", 10)), "nul\\x00del\\x7f\\xc3\\xa9");
  // A backslash doubles, so a peer cannot write what looks like an escape of ours.
  EXPECT_EQ(PeerText("\\n"), "\\\\n");
}

TEST(PeerTextTest, LongTextIsCutAndSaysHowMuchWasLeftOut) {
  EXPECT_EQ(PeerText(std::string(10, 'x'), 4), "xxxx...(6 more bytes)");
  EXPECT_EQ(PeerText(std::string(70'000, 'y')).size(),
            kMaxPeerTextBytes + std::string("...(68976 more bytes)").size());
}

}  // namespace
}  // namespace pixelmill
