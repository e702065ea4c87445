// parse_command: every command, from real client transcripts, checked by
// parsing and serialising to a canonical form (which pins every field the
// serialiser writes), plus structural checks and every error path.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocols/imap/parser/parser.h"
#include "protocols/imap/parser/serialise.h"

namespace {

using imap::errc;

std::string canonical(std::string_view wire, imap::parse_options options = {}) {
  imap::command_reader reader;
  auto parsed = imap::parse_command_text(reader, wire, options);
  if (!parsed) return "ERR " + std::string(to_string(parsed.error().code)) + " tag=" + parsed.error().tag;
  return imap::serialise(*parsed, options.encoding);
}

struct round_case {
  const char* client;
  std::string wire;
  std::string expected;
};

// Transcripts as these clients send them (case, quoting and spacing kept),
// with the canonical form the parse must produce.
const std::vector<round_case> client_cases = {
    // Thunderbird 115
    {"thunderbird", "1 capability", "1 CAPABILITY"},
    {"thunderbird", "2 authenticate PLAIN", "2 AUTHENTICATE PLAIN"},
    {"thunderbird", "3 ID (\"name\" \"Thunderbird\" \"version\" \"115.3.1\")",
     "3 ID (\"name\" \"Thunderbird\" \"version\" \"115.3.1\")"},
    {"thunderbird", "4 namespace", "4 NAMESPACE"},
    {"thunderbird", "5 list (subscribed) \"\" \"*\" return (special-use)",
     "5 LIST (SUBSCRIBED) \"\" \"*\" RETURN (SPECIAL-USE)"},
    {"thunderbird", "6 select \"INBOX\" (CONDSTORE)", "6 SELECT \"INBOX\" (CONDSTORE)"},
    {"thunderbird", "7 UID fetch 1:* (FLAGS) (CHANGEDSINCE 1234)", "7 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1234)"},
    {"thunderbird",
     "8 UID fetch 5 (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (From To Cc Bcc Subject Date Message-ID "
     "Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To)])",
     "8 UID FETCH 5 (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS (FROM TO CC BCC SUBJECT DATE MESSAGE-ID "
     "PRIORITY X-PRIORITY REFERENCES NEWSGROUPS IN-REPLY-TO CONTENT-TYPE REPLY-TO)])"},
    {"thunderbird", "9 UID fetch 5 (UID RFC822.SIZE BODY.PEEK[])", "9 UID FETCH 5 (UID RFC822.SIZE BODY.PEEK[])"},
    {"thunderbird", "10 uid store 5 +Flags (\\Seen)", "10 UID STORE 5 +FLAGS (\\Seen)"},
    {"thunderbird", "11 IDLE", "11 IDLE"},
    {"thunderbird", "12 UID STORE 7:9,12 +FLAGS.SILENT (\\Deleted)", "12 UID STORE 7:9,12 +FLAGS.SILENT (\\Deleted)"},
    {"thunderbird", "13 UID EXPUNGE 7:9,12", "13 UID EXPUNGE 7:9,12"},
    {"thunderbird", "14 uid copy 5 \"Trash\"", "14 UID COPY 5 \"Trash\""},
    {"thunderbird", "15 UID MOVE 5 \"[Gmail]/Trash\"", "15 UID MOVE 5 \"[Gmail]/Trash\""},
    {"thunderbird", "16 list \"\" \"&AMk-l&AOk-ments envoy&AOk-s\"", "16 LIST \"\" \"&AMk-l&AOk-ments envoy&AOk-s\""},
    {"thunderbird", "17 uid store 3 +Flags ($Forwarded $label1)", "17 UID STORE 3 +FLAGS ($Forwarded $label1)"},
    // Apple Mail (macOS 12) and iOS
    {"apple", "1.1 ID (\"name\" \"Mac OS X Mail\" \"version\" \"16.0 (3696.120.41.1.1)\" \"os\" \"Mac OS X\" "
              "\"os-version\" \"12.4 (21F79)\" \"vendor\" \"Apple Inc.\")",
     "1.1 ID (\"name\" \"Mac OS X Mail\" \"version\" \"16.0 (3696.120.41.1.1)\" \"os\" \"Mac OS X\" "
     "\"os-version\" \"12.4 (21F79)\" \"vendor\" \"Apple Inc.\")"},
    {"apple", "2.1 SELECT INBOX (QRESYNC (1617181920 12345 1:200))",
     "2.1 SELECT \"INBOX\" (QRESYNC (1617181920 12345 1:200))"},
    {"apple", "3.1 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)",
     "3.1 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)"},
    {"apple", "4.1 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 "
              "15000,22500,27000,29970,29973)))",
     "4.1 SELECT \"INBOX\" (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 "
     "15000,22500,27000,29970,29973)))"},
    {"apple", "5.1 UID FETCH 201:* (BODYSTRUCTURE RFC822.HEADER RFC822.SIZE FLAGS INTERNALDATE)",
     "5.1 UID FETCH 201:* (BODYSTRUCTURE RFC822.HEADER RFC822.SIZE FLAGS INTERNALDATE)"},
    {"apple", "6.1 LIST \"\" \"*\" RETURN (STATUS (MESSAGES UNSEEN UIDNEXT))",
     "6.1 LIST \"\" \"*\" RETURN (STATUS (MESSAGES UIDNEXT UNSEEN))"},
    {"apple", "7.1 APPEND \"Drafts\" (\\Seen \\Draft) \"05-Jan-2024 10:11:12 +0100\" {5}\r\nhello",
     "7.1 APPEND \"Drafts\" (\\Seen \\Draft) \"05-Jan-2024 10:11:12 +0100\" {5}\r\nhello"},
    {"ios", "3 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 0)", "3 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 0)"},
    {"ios", "4 UID SEARCH 1:* NOT DELETED", "4 UID SEARCH 1:* NOT DELETED"},
    {"ios", "5 SELECT INBOX (CONDSTORE)", "5 SELECT \"INBOX\" (CONDSTORE)"},
    // Outlook
    {"outlook", "A001 LOGIN \"user@example.com\" \"p@ss w0rd\"", "A001 LOGIN user@example.com \"p@ss w0rd\""},
    {"outlook", "A002 LSUB \"\" \"*\"", "A002 LSUB \"\" \"*\""},
    {"outlook", "A003 APPEND \"Sent Items\" (\\Seen) {11}\r\nhello world",
     "A003 APPEND \"Sent Items\" (\\Seen) {11}\r\nhello world"},
    {"outlook", "A005 FETCH 1:* (UID FLAGS)", "A005 FETCH 1:* (UID FLAGS)"},
    {"outlook", "A006 UID SEARCH UNDELETED UID 1:* ", "A006 UID SEARCH UNDELETED UID 1:*"},
    // mutt
    {"mutt", "a0001 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==", "a0001 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA=="},
    {"mutt",
     "a0004 FETCH 1:3 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (DATE FROM SENDER SUBJECT TO CC "
     "MESSAGE-ID REFERENCES CONTENT-TYPE CONTENT-DESCRIPTION IN-REPLY-TO REPLY-TO LINES LIST-POST X-LABEL "
     "X-ORIGINAL-TO)])",
     "a0004 FETCH 1:3 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (DATE FROM SENDER SUBJECT TO CC "
     "MESSAGE-ID REFERENCES CONTENT-TYPE CONTENT-DESCRIPTION IN-REPLY-TO REPLY-TO LINES LIST-POST X-LABEL "
     "X-ORIGINAL-TO)])"},
    {"mutt", "a0006 STATUS \"Sent\" (MESSAGES)", "a0006 STATUS \"Sent\" (MESSAGES)"},
    {"mutt", "a0007 STORE 1 +FLAGS.SILENT (\\Seen)", "a0007 STORE 1 +FLAGS.SILENT (\\Seen)"},
    {"mutt", "a0008 EXPUNGE", "a0008 EXPUNGE"},
    {"mutt", "a0009 UID SEARCH OR HEADER SUBJECT \"x y\" FROM \"z\"", "a0009 UID SEARCH OR HEADER SUBJECT \"x y\" FROM \"z\""},
    // mbsync (isync 1.4)
    {"mbsync", "2 LOGIN \"alice\" {8+}\r\npa\"ss wd", "2 LOGIN alice \"pa\\\"ss wd\""},
    {"mbsync", "5 UID FETCH 1:1000000000 (UID FLAGS)", "5 UID FETCH 1:1000000000 (UID FLAGS)"},
    {"mbsync", "6 UID FETCH 3:4 (BODY.PEEK[])", "6 UID FETCH 3:4 (BODY.PEEK[])"},
    {"mbsync", "7 APPEND \"INBOX\" (\\Seen) {5+}\r\nhello", "7 APPEND \"INBOX\" (\\Seen) {5}\r\nhello"},
    {"mbsync", "8 UID STORE 1 +FLAGS.SILENT \\Deleted", "8 UID STORE 1 +FLAGS.SILENT (\\Deleted)"},
    {"mbsync", "9 CREATE \"Archive/2024\"", "9 CREATE \"Archive/2024\""},
    // Roundcube (SORT, THREAD, ESEARCH)
    {"roundcube", "A0005 UID SORT (REVERSE ARRIVAL) US-ASCII ALL UNDELETED",
     "A0005 UID SORT (REVERSE ARRIVAL) US-ASCII ALL UNDELETED"},
    {"roundcube", "A0006 UID THREAD REFERENCES US-ASCII ALL UNDELETED",
     "A0006 UID THREAD REFERENCES US-ASCII ALL UNDELETED"},
    {"roundcube", "A0007 UID SORT RETURN (ALL COUNT) (DATE) UTF-8 NOT DELETED",
     "A0007 UID SORT RETURN (ALL COUNT) (DATE) UTF-8 NOT DELETED"},
    {"roundcube", "A0008 SEARCH RETURN (MIN MAX COUNT ALL) CHARSET UTF-8 OR HEADER SUBJECT foo BODY bar UNDELETED",
     "A0008 SEARCH RETURN (MIN MAX ALL COUNT) CHARSET UTF-8 OR HEADER SUBJECT \"foo\" BODY \"bar\" UNDELETED"},
    {"roundcube", "A0009 THREAD ORDEREDSUBJECT UTF-8 SINCE 1-Feb-1994", "A0009 THREAD ORDEREDSUBJECT UTF-8 SINCE 1-Feb-1994"},
    {"roundcube", "A0010 SORT (REVERSE DATE SUBJECT DISPLAYFROM) UTF-8 ALL",
     "A0010 SORT (REVERSE DATE SUBJECT DISPLAYFROM) UTF-8 ALL"},
};

// Grammar corners from RFC 3501, RFC 9051 and the extensions.
const std::vector<round_case> grammar_cases = {
    {"rfc", "a SEARCH (OR SEEN FLAGGED) NOT (UID 1:5 LARGER 100) SENTBEFORE \"2-Mar-2024\" KEYWORD $Junk "
            "MODSEQ \"/flags/\\\\draft\" all 620162338 $",
     "a SEARCH (OR SEEN FLAGGED) NOT (UID 1:5 LARGER 100) SENTBEFORE 2-Mar-2024 KEYWORD $Junk "
     "MODSEQ \"/flags/\\\\draft\" all 620162338 $"},
    {"rfc", "a SEARCH 2:4,*:10 YOUNGER 3600 OLDER 60", "a SEARCH 2:4,10:* YOUNGER 3600 OLDER 60"},
    {"rfc", "a SEARCH ANSWERED DELETED DRAFT FLAGGED NEW OLD RECENT SEEN UNANSWERED UNDELETED UNDRAFT UNFLAGGED "
            "UNSEEN BCC b CC c TO t TEXT x SMALLER 5 ON 9-Sep-2001 SENTON 10-Oct-2010 SENTSINCE 1-Jan-2000 "
            "BEFORE 3-Mar-2003 UNKEYWORD $x",
     "a SEARCH ANSWERED DELETED DRAFT FLAGGED NEW OLD RECENT SEEN UNANSWERED UNDELETED UNDRAFT UNFLAGGED "
     "UNSEEN BCC \"b\" CC \"c\" TO \"t\" TEXT \"x\" SMALLER 5 ON 9-Sep-2001 SENTON 10-Oct-2010 SENTSINCE 1-Jan-2000 "
     "BEFORE 3-Mar-2003 UNKEYWORD $x"},
    {"rfc", "a SEARCH CHARSET UTF-8 TEXT {7}\r\nstra\xc3\x9f" "e", "a SEARCH CHARSET UTF-8 TEXT \"stra\xc3\x9f" "e\""},
    {"rfc", "a SEARCH RETURN () ALL", "a SEARCH RETURN (ALL) ALL"},
    {"rfc", "a SEARCH RETURN (SAVE) FLAGGED", "a SEARCH RETURN (SAVE) FLAGGED"},
    {"rfc", "a FETCH $ (FLAGS)", "a FETCH $ (FLAGS)"},
    {"rfc", "a FETCH 1 ALL", "a FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)"},
    {"rfc", "a FETCH 1 fast", "a FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE)"},
    {"rfc", "a FETCH 1 FULL", "a FETCH 1 (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY)"},
    {"rfc", "a FETCH 1 body[]", "a FETCH 1 (BODY[])"},
    {"rfc", "a FETCH 1:2 (BODY[1.2.MIME] BODY[2.HEADER] BODY[3]<10.20> BINARY.PEEK[1.1] BINARY.SIZE[2] BODY[TEXT] "
            "MODSEQ RFC822 RFC822.TEXT BODY SAVEDATE EMAILID THREADID BINARY[]<0.1>)",
     "a FETCH 1:2 (BODY[1.2.MIME] BODY[2.HEADER] BODY[3]<10.20> BINARY.PEEK[1.1] BINARY.SIZE[2] BODY[TEXT] "
     "MODSEQ RFC822 RFC822.TEXT BODY SAVEDATE EMAILID THREADID BINARY[]<0.1>)"},
    {"rfc", "a FETCH 1 BODY[HEADER.FIELDS.NOT (Received \"X-Spam\")]", "a FETCH 1 (BODY[HEADER.FIELDS.NOT (RECEIVED X-SPAM)])"},
    {"rfc", "a STORE 2 (UNCHANGEDSINCE 320162338) -FLAGS (\\Seen $Forwarded)",
     "a STORE 2 (UNCHANGEDSINCE 320162338) -FLAGS (\\Seen $Forwarded)"},
    {"rfc", "a STORE 2 FLAGS ()", "a STORE 2 FLAGS ()"},
    {"rfc", "a EXAMINE blurdybloop", "a EXAMINE \"blurdybloop\""},
    {"rfc", "a CREATE \"Drafts\" (USE (\\Drafts))", "a CREATE \"Drafts\" (USE (\\Drafts))"},
    {"rfc", "a RENAME \"Old\" \"New\"", "a RENAME \"Old\" \"New\""},
    {"rfc", "a SUBSCRIBE #news.comp.mail.misc", "a SUBSCRIBE \"#news.comp.mail.misc\""},
    {"rfc", "a UNSUBSCRIBE x", "a UNSUBSCRIBE \"x\""},
    {"rfc", "a DELETE inbox", "a DELETE \"INBOX\""},
    {"rfc", "a SELECT InBoX", "a SELECT \"INBOX\""},
    {"rfc", "a SELECT INBOX.sub", "a SELECT \"INBOX.sub\""},
    {"rfc", "a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (INBOX \"Lists/%\")",
     "a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (\"INBOX\" \"Lists/%\")"},
    {"rfc", "a LIST (SPECIAL-USE REMOTE) \"\" * RETURN (CHILDREN SUBSCRIBED MYRIGHTS)",
     "a LIST (REMOTE SPECIAL-USE) \"\" \"*\" RETURN (SUBSCRIBED CHILDREN MYRIGHTS)"},
    {"rfc", "a LIST \"\" %", "a LIST \"\" \"%\""},
    {"rfc", "a LIST \"\" \"\"", "a LIST \"\" \"\""},
    {"rfc", "a LIST ~/Mail/ %", "a LIST \"~/Mail/\" \"%\""},
    {"rfc", "a LIST \"\" (%)", "a LIST \"\" (\"%\")"},
    {"rfc", "a STATUS blurdybloop (UIDNEXT MESSAGES SIZE DELETED HIGHESTMODSEQ RECENT UIDVALIDITY UNSEEN)",
     "a STATUS \"blurdybloop\" (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE HIGHESTMODSEQ)"},
    {"rfc", "a ENABLE CONDSTORE qresync", "a ENABLE CONDSTORE QRESYNC"},
    {"rfc", "a ENABLE UTF8=ACCEPT", "a ENABLE UTF8=ACCEPT"},
    {"rfc", "a GETQUOTAROOT INBOX", "a GETQUOTAROOT \"INBOX\""},
    {"rfc", "a GETQUOTA \"\"", "a GETQUOTA \"\""},
    {"rfc", "a COMPRESS deflate", "a COMPRESS DEFLATE"},
    {"rfc", "a ID NIL", "a ID NIL"},
    {"rfc", "a ID (\"name\" NIL)", "a ID (\"name\" NIL)"},
    {"rfc", "a CHECK", "a CHECK"},
    {"rfc", "a CLOSE", "a CLOSE"},
    {"rfc", "a UNSELECT", "a UNSELECT"},
    {"rfc", "a LOGOUT", "a LOGOUT"},
    {"rfc", "a NOOP", "a NOOP"},
    {"rfc", "a STARTTLS", "a STARTTLS"},
    {"rfc", "a MOVE 1:3 Archive", "a MOVE 1:3 \"Archive\""},
    {"rfc", "a COPY 2:4 MEETING", "a COPY 2:4 \"MEETING\""},
    {"rfc", "a APPEND saved-messages (\\Seen) {3}\r\nabc {2}\r\nde",
     "a APPEND \"saved-messages\" (\\Seen) {3}\r\nabc {2}\r\nde"},
    {"rfc", "a APPEND INBOX \" 7-Feb-1994 21:52:25 -0800\" {1}\r\nx",
     "a APPEND \"INBOX\" \"07-Feb-1994 21:52:25 -0800\" {1}\r\nx"},
    {"rfc", "a SELECT \"&U,BTFw-\"", "a SELECT \"&U,BTFw-\""},
    {"rfc", "a LOGIN {5}\r\nalice {0}\r\n\r\n", "a LOGIN alice \"\""},
    {"rfc", "a AUTHENTICATE PLAIN =", "a AUTHENTICATE PLAIN ="},
    {"rfc", "a UID SEARCH RETURN (COUNT) CHARSET \"UTF-8\" HEADER \"X-Foo\" \"\"",
     "a UID SEARCH RETURN (COUNT) CHARSET UTF-8 HEADER X-Foo \"\""},
    {"rfc", "a THREAD REFS UTF-8 (FROM a SUBJECT b)", "a THREAD REFS UTF-8 (FROM \"a\" SUBJECT \"b\")"},
};

TEST(imap_parser, client_transcripts) {
  for (const round_case& c : client_cases) {
    EXPECT_EQ(canonical(c.wire), c.expected) << c.client << ": " << c.wire;
  }
}

TEST(imap_parser, grammar_corners) {
  for (const round_case& c : grammar_cases) {
    EXPECT_EQ(canonical(c.wire), c.expected) << c.wire;
  }
}

// The canonical form is a fixed point: parsing it gives it back.
TEST(imap_parser, canonical_form_is_stable) {
  for (const auto* table : {&client_cases, &grammar_cases}) {
    for (const round_case& c : *table) {
      EXPECT_EQ(canonical(c.expected), c.expected) << c.expected;
    }
  }
}

struct error_case {
  std::string wire;
  errc code;
  std::string tag;
};

TEST(imap_parser, errors) {
  const std::vector<error_case> cases = {
      {"a FETCH 0 FLAGS", errc::bad_sequence_set, "a"},
      {"a FETCH 1:0 FLAGS", errc::bad_sequence_set, "a"},
      {"a FETCH 4294967296 FLAGS", errc::bad_sequence_set, "a"},
      {"a FETCH 4294967295 FLAGS", errc::bad_sequence_set, "a"},
      {"a FETCH 1,,2 FLAGS", errc::bad_sequence_set, "a"},
      {"a FETCH , FLAGS", errc::bad_sequence_set, "a"},
      {"a FETCH 1: FLAGS", errc::bad_sequence_set, "a"},
      {"a FETCH :3 FLAGS", errc::bad_sequence_set, "a"},
      {"a FETCH 01 FLAGS", errc::bad_sequence_set, "a"},
      {"a FETCH ** FLAGS", errc::bad_sequence_set, "a"},
      {"a FETCH $,1 FLAGS", errc::bad_sequence_set, "a"},
      {"a FETCH  FLAGS", errc::bad_sequence_set, "a"},
      {"a FETCH 1.5 FLAGS", errc::syntax, "a"},
      {"a FROB", errc::unknown_command, "a"},
      {"abc UID FROB 1", errc::unknown_command, "abc"},
      {"a LOGIN alice", errc::syntax, "a"},
      {"NOOP", errc::bad_tag, ""},
      {"+ NOOP", errc::bad_tag, ""},
      {"a{ NOOP", errc::bad_tag, ""},
      {"a NOOP extra", errc::syntax, "a"},
      {"a SEARCH", errc::syntax, "a"},
      {"a SEARCH FOO", errc::syntax, "a"},
      {"a SEARCH SINCE 32-Jan-2024", errc::bad_date, "a"},
      {"a SEARCH SINCE 30-Feb-2024", errc::bad_date, "a"},
      {"a SEARCH ON 1-Foo-2024", errc::bad_date, "a"},
      {"a SEARCH ON 1-Jan-24", errc::bad_date, "a"},
      {"a APPEND INBOX \"31-Feb-2024 10:00:00 +0000\" {1}\r\nx", errc::bad_date, "a"},
      {"a APPEND INBOX \"01-Jan-2024 25:00:00 +0000\" {1}\r\nx", errc::bad_date, "a"},
      {"a APPEND INBOX \"01-Jan-2024 10:00:00 0000\" {1}\r\nx", errc::bad_date, "a"},
      {"a APPEND INBOX", errc::syntax, "a"},
      {"a APPEND INBOX (\\Seen)", errc::syntax, "a"},
      {"a APPEND INBOX hello", errc::syntax, "a"},
      {"a LOGIN ~{3}\r\nabc x", errc::bad_literal_position, "a"},
      {std::string("a LOGIN {3}\r\na\0b x", 19), errc::nul_in_literal, "a"},
      {"a LOGIN \"unterminated", errc::syntax, "a"},
      {"a LOGIN \"bad\\escape\" x", errc::syntax, "a"},
      {"a FETCH 1 (FLAGS) (VANISHED)", errc::syntax, "a"},
      {"a UID FETCH 1 (FLAGS) (VANISHED)", errc::syntax, "a"},
      {"a FETCH 1 (FLAGS) (CHANGEDSINCE x)", errc::bad_number, "a"},
      {"a FETCH 1 (FLAGS) (CHANGEDSINCE 9223372036854775808)", errc::bad_number, "a"},
      {"a FETCH 1 BODY[1.MIME", errc::syntax, "a"},
      {"a FETCH 1 BODY[MIME]", errc::syntax, "a"},
      {"a FETCH 1 BODY[0]", errc::bad_number, "a"},
      {"a FETCH 1 BODY[]<5.0>", errc::bad_number, "a"},
      {"a FETCH 1 BINARY[HEADER]", errc::syntax, "a"},
      {"a FETCH 1 (FLAGS", errc::syntax, "a"},
      {"a FETCH 1 ()", errc::syntax, "a"},
      {"a FETCH 1 ENVELOPEX", errc::syntax, "a"},
      {"a SELECT \"Entw\xc3\xbcrfe\"", errc::bad_mailbox_name, "a"},
      {"a SELECT &AGE-", errc::bad_mailbox_name, "a"},
      {"a SELECT INBOX (QRESYNC (0 5))", errc::bad_number, "a"},
      {"a SELECT INBOX (QRESYNC (1 0))", errc::bad_number, "a"},
      {"a SELECT INBOX (FOO)", errc::syntax, "a"},
      {"a LIST (RECURSIVEMATCH) \"\" \"*\"", errc::syntax, "a"},
      {"a LIST \"\" \"*\" RETURN (BOGUS)", errc::syntax, "a"},
      {"a STORE 1 FLAGS", errc::syntax, "a"},
      {"a STORE 1 +FLAGZ (\\Seen)", errc::syntax, "a"},
      {"a STATUS INBOX ()", errc::syntax, "a"},
      {"a STATUS INBOX (MESSAGES BOGUS)", errc::syntax, "a"},
      {"a SORT (ARRIVAL) ALL", errc::syntax, "a"},
      {"a SORT (BOGUS) UTF-8 ALL", errc::syntax, "a"},
      {"a THREAD BOGUS UTF-8 ALL", errc::syntax, "a"},
      {"a CREATE x (USE (Drafts))", errc::syntax, "a"},
      {"a AUTHENTICATE PLAIN ab*c", errc::syntax, "a"},
      {"a ID (\"k\")", errc::syntax, "a"},
      {"a ID (\"k\" \"" + std::string(1025, 'v') + "\")", errc::too_many_arguments, "a"},
  };
  for (const error_case& c : cases) {
    imap::command_reader reader;
    auto parsed = imap::parse_command_text(reader, c.wire);
    ASSERT_FALSE(parsed.has_value()) << c.wire;
    EXPECT_EQ(parsed.error().code, c.code) << c.wire << " gave " << to_string(parsed.error().code);
    EXPECT_EQ(parsed.error().tag, c.tag) << c.wire;
    EXPECT_TRUE(parsed.error().can_continue);
  }
}

TEST(imap_parser, nesting_depth_limit) {
  imap::parser_limits limits;
  limits.nesting_depth_max = 8;
  auto parse = [&](const std::string& wire) {
    imap::command_reader reader(limits);
    return imap::parse_command_text(reader, wire);
  };
  std::string nots, parens_open, parens_close;
  for (int i = 0; i < 8; ++i) nots += "NOT ";
  EXPECT_TRUE(parse("a SEARCH " + nots + "SEEN").has_value());
  auto deep = parse("a SEARCH NOT " + nots + "SEEN");
  ASSERT_FALSE(deep.has_value());
  EXPECT_EQ(deep.error().code, errc::nesting_too_deep);
  for (int i = 0; i < 9; ++i) parens_open += "(", parens_close += ")";
  auto deep_parens = parse("a SEARCH " + parens_open + "SEEN" + parens_close);
  ASSERT_FALSE(deep_parens.has_value());
  EXPECT_EQ(deep_parens.error().code, errc::nesting_too_deep);
  // A hostile depth far beyond the limit fails fast instead of overflowing the stack.
  std::string hostile = "a SEARCH ";
  for (int i = 0; i < 100000; ++i) hostile += "(";
  imap::parser_limits big;
  big.line_length_max = 200000;
  imap::command_reader reader(big);
  auto r = imap::parse_command_text(reader, hostile);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, errc::nesting_too_deep);
}

TEST(imap_parser, sequence_range_and_argument_limits) {
  imap::parser_limits limits;
  limits.sequence_ranges_max = 10;
  limits.arguments_max = 20;
  imap::command_reader reader(limits);
  EXPECT_TRUE(imap::parse_command_text(reader, "a FETCH 1,2,3,4,5,6,7,8,9,10 FLAGS").has_value());
  auto ranges = imap::parse_command_text(reader, "a FETCH 1,2,3,4,5,6,7,8,9,10,11 FLAGS");
  ASSERT_FALSE(ranges.has_value());
  EXPECT_EQ(ranges.error().code, errc::too_many_ranges);
  // The budget is per command: SEARCH UID sets add up.
  auto split = imap::parse_command_text(reader, "a SEARCH UID 1,2,3,4,5 UID 6,7,8,9,10,11");
  ASSERT_FALSE(split.has_value());
  EXPECT_EQ(split.error().code, errc::too_many_ranges);
  std::string many = "a SEARCH";
  for (int i = 0; i < 30; ++i) many += " SEEN";
  auto args = imap::parse_command_text(reader, many);
  ASSERT_FALSE(args.has_value());
  EXPECT_EQ(args.error().code, errc::too_many_arguments);
}

TEST(imap_parser, login_and_append_fields) {
  imap::command_reader reader;
  auto login = imap::parse_command_text(reader, "A1 LOGIN \"al\\\\ice\" {4+}\r\np w\"");
  ASSERT_TRUE(login.has_value());
  EXPECT_EQ(login->tag, "A1");
  auto& l = std::get<imap::login_command>(login->body);
  EXPECT_EQ(l.user, "al\\ice");
  EXPECT_EQ(l.password, "p w\"");

  auto append = imap::parse_command_text(
      reader, "A2 APPEND Drafts (\\Draft $MDNSent) \"17-Jul-1996 02:44:25 -0700\" {8}\r\nSubject: {1}\r\nx");
  ASSERT_TRUE(append.has_value());
  auto& a = std::get<imap::append_command>(append->body);
  EXPECT_EQ(a.mailbox, "Drafts");
  ASSERT_EQ(a.messages.size(), 2u);
  EXPECT_EQ(a.messages[0].message.bytes, "Subject:");
  EXPECT_EQ((a.messages[0].flags), (std::vector<std::string>{"\\Draft", "$MDNSent"}));
  ASSERT_TRUE(a.messages[0].internal_date.has_value());
  EXPECT_EQ(a.messages[0].internal_date->day, (imap::date{1996, 7, 17}));
  EXPECT_EQ(a.messages[0].internal_date->hour, 2);
  EXPECT_EQ(a.messages[0].internal_date->zone_minutes, -420);
  EXPECT_EQ(a.messages[1].message.bytes, "x");
  EXPECT_EQ(a.messages[1].message.index, 1u);
  EXPECT_EQ(imap::command_name(append->body), "APPEND");
}

TEST(imap_parser, streamed_append_literal) {
  imap::command_reader reader;
  std::string_view wire = "s APPEND INBOX (\\Seen) {5}\r\nhello\r\n";
  std::string spooled;
  while (true) {
    auto ev = reader.read(wire);
    wire.remove_prefix(ev.consumed_bytes);
    if (ev.status == imap::read_status::need_literal) reader.accept_literal(imap::literal_mode::stream);
    if (ev.status == imap::read_status::literal_chunk) spooled += ev.bytes;
    if (ev.status == imap::read_status::command) break;
    ASSERT_NE(ev.status, imap::read_status::error);
  }
  EXPECT_EQ(spooled, "hello");
  auto parsed = imap::parse_command(reader.command(), reader.limits());
  ASSERT_TRUE(parsed.has_value());
  auto& a = std::get<imap::append_command>(parsed->body);
  EXPECT_TRUE(a.messages[0].message.streamed);
  EXPECT_EQ(a.messages[0].message.size_bytes, 5u);
  EXPECT_TRUE(a.messages[0].message.bytes.empty());
}

TEST(imap_parser, search_tree_shape) {
  imap::command_reader reader;
  auto parsed = imap::parse_command_text(reader, "t UID SEARCH OR (FROM a NOT SEEN) 1:3,5 UID $");
  ASSERT_TRUE(parsed.has_value());
  auto& s = std::get<imap::search_command>(parsed->body);
  EXPECT_TRUE(s.uid);
  ASSERT_EQ(s.keys.size(), 2u);
  const auto& o = s.keys[0];
  EXPECT_EQ(o.kind, imap::search_kind::or_);
  ASSERT_EQ(o.children.size(), 2u);
  EXPECT_EQ(o.children[0].kind, imap::search_kind::and_);
  EXPECT_EQ(o.children[0].children[1].kind, imap::search_kind::not_);
  EXPECT_EQ(o.children[1].kind, imap::search_kind::sequence_set);
  EXPECT_EQ(o.children[1].set.ranges, (std::vector<imap::sequence_range>{{1, 3}, {5, 5}}));
  EXPECT_TRUE(s.keys[1].set.saved_result);
}

TEST(imap_parser, select_qresync_fields) {
  imap::command_reader reader;
  auto parsed = imap::parse_command_text(reader, "B04 SELECT INBOX (CONDSTORE QRESYNC (67890007 90060115194045000 "
                                                 "41,43:211 (5000,7500 15000,22500)))");
  ASSERT_TRUE(parsed.has_value());
  auto& s = std::get<imap::select_command>(parsed->body);
  EXPECT_TRUE(s.condstore);
  ASSERT_TRUE(s.qresync.has_value());
  EXPECT_EQ(s.qresync->uid_validity, 67890007u);
  EXPECT_EQ(s.qresync->modseq, 90060115194045000ull);
  EXPECT_EQ(imap::format_sequence_set(*s.qresync->known_uids), "41,43:211");
  EXPECT_EQ(imap::format_sequence_set(*s.qresync->known_sequence_numbers), "5000,7500");
  EXPECT_EQ(imap::format_sequence_set(*s.qresync->known_sequence_uids), "15000,22500");
}

TEST(imap_parser, utf8_accept_mailbox_names) {
  imap::parse_options utf8{imap::mailbox_encoding::utf8};
  EXPECT_EQ(canonical("a SELECT \"Entw\xc3\xbcrfe\"", utf8), "a SELECT \"Entw\xc3\xbcrfe\"");
  // In UTF-8 mode "&" is just a character.
  imap::command_reader reader;
  auto parsed = imap::parse_command_text(reader, "a CREATE Entw&APw-rfe", utf8);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(std::get<imap::create_command>(parsed->body).mailbox, "Entw&APw-rfe");
  // Modified UTF-7 mode decodes it.
  parsed = imap::parse_command_text(reader, "a CREATE Entw&APw-rfe");
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(std::get<imap::create_command>(parsed->body).mailbox, "Entw\xc3\xbcrfe");
  // Invalid UTF-8 is refused in UTF-8 mode.
  EXPECT_EQ(canonical("a SELECT \"\xc3\x28\"", utf8), "ERR bad mailbox name tag=a");
}

TEST(imap_parser, fetch_macro_and_partial_fields) {
  imap::command_reader reader;
  auto parsed = imap::parse_command_text(reader, "f FETCH 1:* (BODY.PEEK[1.2.HEADER.FIELDS (Subject)]<0.2048>)");
  ASSERT_TRUE(parsed.has_value());
  auto& f = std::get<imap::fetch_command>(parsed->body);
  ASSERT_EQ(f.attributes.size(), 1u);
  const auto& a = f.attributes[0];
  EXPECT_EQ(a.kind, imap::fetch_kind::body_section);
  EXPECT_TRUE(a.peek);
  EXPECT_EQ(a.section.part, (std::vector<std::uint32_t>{1, 2}));
  EXPECT_EQ(a.section.text, imap::section_text::header_fields);
  EXPECT_EQ(a.section.fields, (std::vector<std::string>{"SUBJECT"}));
  ASSERT_TRUE(a.partial.has_value());
  EXPECT_EQ(a.partial->origin, 0u);
  EXPECT_EQ(a.partial->count, 2048u);
  EXPECT_EQ(f.set.ranges, (std::vector<imap::sequence_range>{{1, imap::sequence_star}}));
  parsed = imap::parse_command_text(reader, "f FETCH 1 ALL");
  EXPECT_EQ(std::get<imap::fetch_command>(parsed->body).macro, imap::fetch_macro::all);
}

// Literals split at every byte boundary parse to the same command.
TEST(imap_parser, literal_split_points_parse_identically) {
  const std::string wire = "L1 APPEND {5}\r\nDrats (\\Seen) {12}\r\nhello\r\nworld {3+}\r\nabc\r\n";
  const std::string expected = canonical(wire);
  ASSERT_EQ(expected, "L1 APPEND \"Drats\" (\\Seen) {12}\r\nhello\r\nworld {3}\r\nabc");
  for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
    imap::command_reader reader;
    std::string pending;
    std::string got;
    for (std::string_view piece : {std::string_view(wire).substr(0, cut), std::string_view(wire).substr(cut)}) {
      pending += piece;
      std::string_view input = pending;
      while (got.empty()) {
        auto ev = reader.read(input);
        input.remove_prefix(ev.consumed_bytes);
        if (ev.status == imap::read_status::need_more) break;
        if (ev.status == imap::read_status::need_literal) reader.accept_literal();
        if (ev.status == imap::read_status::command) {
          auto parsed = imap::parse_command(reader.command(), reader.limits());
          ASSERT_TRUE(parsed.has_value());
          got = imap::serialise(*parsed);
        }
      }
      pending.assign(input);
    }
    EXPECT_EQ(got, expected) << "cut at " << cut;
  }
}

}  // namespace
