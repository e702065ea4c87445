#pragma once
// RFC 3464 delivery status notifications: a multipart/report with a human
// part, a message/delivery-status part (one per-recipient block for each
// recipient the report is about, and only those) and the original message
// or its headers (RET=FULL / HDRS; headers when not given). Pure.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace appliance::outbound {

struct dsn_recipient {
  std::string address;       // Final-Recipient
  std::string orcpt;         // Original-Recipient as given ("rfc822;a@b"), or ""
  std::string action;        // "failed" or "delayed"
  std::string status;        // "5.1.1"
  std::string remote_mta;    // "mx.example.org" or ""
  std::string diagnostic;    // the server's reply ("550 5.1.1 ...") or our reason
};

struct dsn_request {
  std::string reporting_mta;   // our hostname
  std::string from;            // "MAILER-DAEMON@<hostname>"
  std::string to;              // the original sender (the envelope sender)
  std::string envid;           // Original-Envelope-Id, or ""
  uint64_t arrival_ms = 0;     // when we accepted the message
  uint64_t now_ms = 0;
  uint64_t retry_until_ms = 0;  // delayed reports: when the queue gives up
  std::string ret;             // "FULL" returns the message, anything else its headers
  std::vector<dsn_recipient> recipients;
  std::string_view original;   // the message as queued (CRLF)
  std::string boundary_seed;   // makes the MIME boundary and Message-ID unique
};

std::string compose_dsn(const dsn_request& r);
std::string rfc5322_date(uint64_t ms);

}  // namespace appliance::outbound
