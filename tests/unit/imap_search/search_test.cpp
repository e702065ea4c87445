// protocols/imap/search: RFC 5322 dates, RFC 5256 base subjects and
// threading (the examples of RFC 5256 and the cases clients trip on), and
// the case folding SEARCH uses.
#include <gtest/gtest.h>

#include "protocols/imap/search/date.h"
#include "protocols/imap/search/fold.h"
#include "protocols/imap/search/subject.h"
#include "protocols/imap/search/thread.h"

using namespace imap::search;

namespace {

TEST(date, parses_rfc5322_and_obsolete_forms) {
  auto d = parse_date("Tue, 15 Jan 2024 09:30:00 +0100");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->year, 2024);
  EXPECT_EQ(d->month, 1);
  EXPECT_EQ(d->day, 15);
  EXPECT_EQ(d->zone_minutes, 60);
  EXPECT_EQ(d->epoch_seconds(), 1705307400);  // 08:30 UTC
  EXPECT_EQ(d->local_day(), days_from_civil(2024, 1, 15));

  // No day name, no seconds, two-digit year, a named zone, a comment.
  auto o = parse_date("1 Feb 99 23:59 EST (Eastern)");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->year, 1999);
  EXPECT_EQ(o->zone_minutes, -300);
  EXPECT_EQ(o->epoch_seconds(), parse_date("2 Feb 1999 04:59:00 +0000")->epoch_seconds());
  EXPECT_EQ(parse_date("1 Feb 49 00:00 GMT")->year, 2049);
  EXPECT_EQ(parse_date("Sat, 3 Dec 2022 07:05:01 -0000")->zone_minutes, 0);
  EXPECT_TRUE(parse_date("Mon,  4 Mar 2024 12:00:00 +0000 (UTC)"));
}

TEST(date, refuses_what_is_not_a_date) {
  for (const char* bad : {"", "yesterday", "31 Feb 2024 10:00:00 +0000", "1 Foo 2024 10:00 +0000",
                          "1 Jan 2024 25:00:00 +0000", "1 Jan 2024 10:00:00 +01", "Funday, 1 Jan 2024 10:00 +0000",
                          "1 Jan 2024", "1 Jan 123456 10:00 +0000"})
    EXPECT_FALSE(parse_date(bad)) << bad;
}

TEST(subject, base_subject_examples) {
  struct row {
    const char* raw;
    const char* base;
    bool reply;
  };
  const row rows[] = {
      {"Hello", "HELLO", false},
      {"Re: Hello", "HELLO", true},
      {"RE:  re: Fwd: Hello", "HELLO", true},
      {"Fw: Hello (fwd)", "HELLO", true},
      {"[ringmail-dev] Re: build broken", "BUILD BROKEN", true},
      {"[ringmail-dev]", "[RINGMAIL-DEV]", false},
      {"[Fwd: Lunch]", "LUNCH", true},
      {"Re[2]: status", "STATUS", true},
      {"  many    spaces\t here ", "MANY SPACES HERE", false},
      {"=?UTF-8?Q?Re:_Gr=C3=BC=C3=9Fe?=", "GRüßE", true},
      {"", "", false},
      {"Re:", "", true},
  };
  for (const auto& r : rows) {
    auto b = base_subject(r.raw);
    EXPECT_EQ(b.text, r.base) << r.raw;
    EXPECT_EQ(b.reply_or_forward, r.reply) << r.raw;
  }
}

TEST(fold, folds_european_scripts) {
  EXPECT_EQ(folded("GRÜSSE aus KÖLN"), "grüsse aus köln");
  EXPECT_EQ(folded("ΑΘΗΝΑ"), "αθηνα");
  EXPECT_EQ(folded("МОСКВА Ёж"), "москва ёж");
  EXPECT_EQ(folded("ŁÓDŹ"), "łódź");
  EXPECT_EQ(folded("日本 ABC"), "日本 abc");
  EXPECT_EQ(folded(std::string("\xff\xc3", 2)), std::string("\xff\xc3", 2));  // invalid bytes are kept
}

TEST(fold, ascii_runs_between_other_bytes_fold_in_place_and_append) {
  // ASCII runs are folded in bulk: at the start, between multibyte and
  // invalid bytes, at the end, and appended after what `out` held.
  EXPECT_EQ(folded("@[AZ`{] Über ALLES\xff END"), "@[az`{] über alles\xff end");
  std::string out = "Keep ";
  append_folded("ÄB", out);
  append_folded("CD", out);
  EXPECT_EQ(out, "Keep äbcd");
  std::string big(100000, 'Q');
  EXPECT_EQ(folded(big), std::string(100000, 'q'));
}

TEST(thread, message_ids) {
  auto ids = parse_message_ids(" <a@x> <b@y>\r\n\t<c@z> junk <unterminated");
  EXPECT_EQ(ids, (std::vector<std::string>{"<a@x>", "<b@y>", "<c@z>"}));
  EXPECT_EQ(parse_message_ids("<a@x> <b@y>", 1).size(), 1u);
}

message_keys msg(std::uint32_t n, std::int64_t t, std::string subject, std::string id, std::vector<std::string> refs) {
  message_keys k;
  k.number = n;
  k.sent_seconds = t;
  auto b = base_subject(subject);
  k.base_subject = b.text;
  k.reply_or_forward = b.reply_or_forward;
  k.message_id = std::move(id);
  k.references = std::move(refs);
  return k;
}

TEST(thread, references_builds_reply_trees) {
  std::vector<message_keys> m = {
      msg(1, 100, "Lunch", "<1@x>", {}),
      msg(2, 200, "Re: Lunch", "<2@x>", {"<1@x>"}),
      msg(3, 300, "Re: Lunch", "<3@x>", {"<1@x>"}),
      msg(4, 400, "Re: Lunch", "<4@x>", {"<1@x>", "<2@x>"}),
      msg(5, 150, "Other", "<5@x>", {}),
  };
  // 1 has two replies (2 and 3); 2 has one (4).
  EXPECT_EQ(thread_references(m), "(1 (2 4)(3))(5)");
}

TEST(thread, references_missing_parent_and_subject_grouping) {
  std::vector<message_keys> m = {
      // Replies to a message we do not have: a dummy parent with two
      // children stays at the root as "((a)(b))".
      msg(1, 100, "Re: Trip", "<1@x>", {"<gone@x>"}),
      msg(2, 200, "Re: Trip", "<2@x>", {"<gone@x>"}),
      // Same subject, no references: a reply is gathered under the
      // original.
      msg(3, 300, "Budget", "<3@x>", {}),
      msg(4, 400, "Re: Budget", "<4@x>", {}),
      // Neither is a reply: siblings under a dummy.
      msg(5, 500, "Plans", "<5@x>", {}),
      msg(6, 600, "Plans", "<6@x>", {}),
  };
  EXPECT_EQ(thread_references(m), "((1)(2))(3 4)((5)(6))");
}

TEST(thread, references_survives_loops_and_duplicates) {
  std::vector<message_keys> m = {
      msg(1, 100, "a", "<1@x>", {"<2@x>"}),
      msg(2, 200, "b", "<2@x>", {"<1@x>"}),  // a reference loop
      msg(3, 300, "c", "<1@x>", {}),         // a duplicate Message-ID
      msg(4, 400, "d", "", {"<1@x>", "<1@x>"}),
  };
  std::string t = thread_references(m);
  for (const char* n : {"1", "2", "3", "4"}) EXPECT_NE(t.find(n), std::string::npos) << t;
  EXPECT_EQ(thread_references({}), "");
}

TEST(thread, ordered_subject) {
  std::vector<message_keys> m = {
      msg(1, 300, "Zebra", "", {}),      msg(2, 100, "Apple", "", {}), msg(3, 200, "Re: apple", "", {}),
      msg(4, 400, "Fwd: Apple", "", {}), msg(5, 50, "Mango", "", {}),
  };
  EXPECT_EQ(thread_ordered_subject(m), "(5)(2 (3)(4))(1)");
  m.pop_back();
  m.erase(m.begin() + 3);
  EXPECT_EQ(thread_ordered_subject(m), "(2 3)(1)");
}

}  // namespace
