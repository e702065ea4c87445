// IMAP rendering: ENVELOPE, BODY/BODYSTRUCTURE syntax and BODY[section]
// bytes, checked against hand-written expected strings.
#include <gtest/gtest.h>

#include <string>

#include "protocols/mime/imap_render.h"
#include "protocols/mime/structure.h"

using namespace mime;

namespace {

const std::string nested =
    "From: \"Al B.\" <a@b.c>\r\n"
    "To: list:x@y.z,w@v.u;, Bob <bob@ex.org>\r\n"
    "Subject: nested \"quoted\" \\ back\r\n"
    "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
    "Message-ID: <id1@b.c>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    "\r\n"
    "preamble\r\n"
    "--outer\r\n"
    "Content-Type: multipart/alternative; boundary=\"inner\"\r\n"
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "plain text\r\n"
    "two lines\r\n"
    "--inner\r\n"
    "Content-Type: text/html\r\n"
    "Content-Language: en, fr\r\n"
    "\r\n"
    "<p>html</p>\r\n"
    "--inner--\r\n"
    "--outer\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "From: x@y.z\r\n"
    "Subject: inside\r\n"
    "\r\n"
    "embedded body\r\n"
    "--outer\r\n"
    "Content-Type: application/octet-stream; name=\"a.bin\"\r\n"
    "Content-Transfer-Encoding: base64\r\n"
    "Content-Disposition: attachment; filename=\"a.bin\"\r\n"
    "Content-ID: <c1@x>\r\n"
    "Content-Description: a binary\r\n"
    "Content-Location: http://x/a.bin\r\n"
    "\r\n"
    "AAECAw==\r\n"
    "--outer--\r\n"
    "epilogue\r\n";

std::string section(const message_tree& t, std::string_view msg, std::string_view spec) {
  auto r = section_bytes(t, msg, spec);
  if (!r) return "ERROR " + std::to_string(static_cast<int>(r.error()));
  return std::string(r->bytes());
}

}  // namespace

TEST(mime_render, bodystructure_extended_and_basic) {
  message_tree t = parse_message(nested);
  const std::string inner_env =
      "(NIL \"inside\" ((NIL NIL \"x\" \"y.z\")) ((NIL NIL \"x\" \"y.z\")) ((NIL NIL \"x\" \"y.z\")) NIL NIL NIL NIL NIL)";
  EXPECT_EQ(render_bodystructure(t, nested, true),
            "(((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 21 2 NIL NIL NIL NIL)"
            "(\"text\" \"html\" NIL NIL NIL \"7bit\" 11 1 NIL NIL (\"en\" \"fr\") NIL)"
            " \"alternative\" (\"boundary\" \"inner\") NIL NIL NIL)"
            "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 45 " + inner_env +
            " (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 13 1 NIL NIL NIL NIL) 4 NIL NIL NIL NIL)"
            "(\"application\" \"octet-stream\" (\"name\" \"a.bin\") \"<c1@x>\" \"a binary\" \"base64\" 8 NIL"
            " (\"attachment\" (\"filename\" \"a.bin\")) NIL \"http://x/a.bin\")"
            " \"mixed\" (\"boundary\" \"outer\") NIL NIL NIL)");
  EXPECT_EQ(render_bodystructure(t, nested, false),
            "(((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 21 2)"
            "(\"text\" \"html\" NIL NIL NIL \"7bit\" 11 1) \"alternative\")"
            "(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 45 " + inner_env +
            " (\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 13 1) 4)"
            "(\"application\" \"octet-stream\" (\"name\" \"a.bin\") \"<c1@x>\" \"a binary\" \"base64\" 8) \"mixed\")");
}

TEST(mime_render, envelope_quotes_groups_and_defaults) {
  message_tree t = parse_message(nested);
  EXPECT_EQ(render_envelope(t, nested, 0),
            "(\"Mon, 1 Jan 2024 10:00:00 +0000\" \"nested \\\"quoted\\\" \\\\ back\" "
            "((\"Al B.\" NIL \"a\" \"b.c\")) ((\"Al B.\" NIL \"a\" \"b.c\")) ((\"Al B.\" NIL \"a\" \"b.c\")) "
            "((NIL NIL \"list\" NIL)(NIL NIL \"x\" \"y.z\")(NIL NIL \"w\" \"v.u\")(NIL NIL NIL NIL)"
            "(\"Bob\" NIL \"bob\" \"ex.org\")) NIL NIL NIL \"<id1@b.c>\")");
}

TEST(mime_render, eight_bit_and_crlf_strings_are_literals) {
  std::string m = "Subject: caf\xC3\xA9\r\nFrom: nobody\r\n\r\n";
  message_tree t = parse_message(m);
  EXPECT_EQ(render_envelope(t, m, 0),
            "(NIL {5}\r\ncaf\xC3\xA9 ((NIL NIL \"nobody\" \"MISSING_DOMAIN\")) ((NIL NIL \"nobody\" \"MISSING_DOMAIN\")) "
            "((NIL NIL \"nobody\" \"MISSING_DOMAIN\")) NIL NIL NIL NIL NIL)");
  std::string out;
  append_imap_string(out, "a\r\nb");
  EXPECT_EQ(out, "{4}\r\na\r\nb");
}

TEST(mime_render, empty_multipart_gets_a_placeholder_body) {
  std::string m = "Content-Type: multipart/mixed; boundary=zz\r\n\r\nno parts\r\n";
  message_tree t = parse_message(m);
  EXPECT_EQ(render_bodystructure(t, m, false),
            "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0) \"mixed\")");
}

TEST(mime_render, rfc2231_parameters_keep_their_star) {
  std::string m =
      "Content-Type: application/pdf; name*0*=utf-8''%E2%82%AC; name*1*=%20x.pdf\r\n\r\nx";
  message_tree t = parse_message(m);
  EXPECT_EQ(render_bodystructure(t, m, false),
            "(\"application\" \"pdf\" (\"name*\" \"utf-8''%E2%82%AC%20x.pdf\") NIL NIL \"7bit\" 1)");
}

TEST(mime_render, sections) {
  message_tree t = parse_message(nested);
  EXPECT_EQ(section(t, nested, ""), nested);
  EXPECT_EQ(section(t, nested, "HEADER"), nested.substr(0, nested.find("\r\n\r\n") + 4));
  EXPECT_EQ(section(t, nested, "TEXT"), nested.substr(nested.find("\r\n\r\n") + 4));
  EXPECT_EQ(section(t, nested, "1.1"), "plain text\r\ntwo lines");
  EXPECT_EQ(section(t, nested, "1.2"), "<p>html</p>");
  EXPECT_EQ(section(t, nested, "1.2.MIME"), "Content-Type: text/html\r\nContent-Language: en, fr\r\n\r\n");
  EXPECT_EQ(section(t, nested, "2"), "From: x@y.z\r\nSubject: inside\r\n\r\nembedded body");
  EXPECT_EQ(section(t, nested, "2.HEADER"), "From: x@y.z\r\nSubject: inside\r\n\r\n");
  EXPECT_EQ(section(t, nested, "2.TEXT"), "embedded body");
  EXPECT_EQ(section(t, nested, "2.1"), "embedded body");  // single-part embedded message: 2.1 is its body
  EXPECT_EQ(section(t, nested, "2.MIME"), "Content-Type: message/rfc822\r\n\r\n");
  EXPECT_EQ(section(t, nested, "2.HEADER.FIELDS (subject)"), "Subject: inside\r\n\r\n");
  EXPECT_EQ(section(t, nested, "3"), "AAECAw==");
  EXPECT_EQ(section(t, nested, "HEADER.FIELDS (From \"Subject\")"),
            "From: \"Al B.\" <a@b.c>\r\nSubject: nested \"quoted\" \\ back\r\n\r\n");
  EXPECT_EQ(section(t, nested, "header.fields.not (From To Subject Date Message-ID Content-Type)"),
            "MIME-Version: 1.0\r\n\r\n");
  EXPECT_EQ(section(t, nested, "HEADER.FIELDS (X-Absent)"), "\r\n");
  EXPECT_EQ(section(t, nested, "4"), "ERROR 2");
  EXPECT_EQ(section(t, nested, "1.3"), "ERROR 2");
  EXPECT_EQ(section(t, nested, "1.1.HEADER"), "ERROR 3");
  EXPECT_EQ(section(t, nested, "MIME"), "ERROR 1");
  EXPECT_EQ(section(t, nested, "1..2"), "ERROR 1");
  EXPECT_EQ(section(t, nested, "HEADER.FIELDS ()"), "ERROR 1");
  EXPECT_EQ(section(t, nested, "0"), "ERROR 1");
}

TEST(mime_render, sections_of_a_single_part_message) {
  std::string m = "Subject: s\r\n\r\nthe body\r\n";
  message_tree t = parse_message(m);
  EXPECT_EQ(section(t, m, "1"), "the body\r\n");  // BODY[1] of a non-multipart is the body
  EXPECT_EQ(section(t, m, "TEXT"), "the body\r\n");
  EXPECT_EQ(section(t, m, "1.MIME"), "Subject: s\r\n\r\n");
  EXPECT_EQ(section(t, m, "2"), "ERROR 2");
  EXPECT_EQ(section(t, m, "1.1"), "the body\r\n");
}
