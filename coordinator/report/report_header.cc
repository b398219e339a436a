#include "coordinator/report/report_header.h"

#include "common/base/json_writer.h"
#include "common/image/image_format.h"
#include "coordinator/download/url_policy.h"
#include "coordinator/events/run_text.h"

namespace pixelmill {
namespace {

// `arg` without its secrets: a URL (a word with "://", or any value of --proxy, which curl
// also takes as user:password@host) redacted, anything else as it is.
std::string RedactArg(const std::string& arg, bool after_proxy) {
  const size_t eq = arg.find('=');
  if (!after_proxy && arg.rfind("--", 0) == 0 && eq != std::string::npos) {
    const bool proxy = arg.compare(0, eq, "--proxy") == 0;
    return arg.substr(0, eq + 1) + RedactArg(arg.substr(eq + 1), proxy);
  }
  if (after_proxy || arg.find("://") != std::string::npos) return RedactUrl(arg, 4096);
  return arg;
}

// ["Authorization", ...]: the names of `headers` ("Name: value" each).
std::string HeaderNamesJson(const std::vector<std::string>& headers) {
  std::string json = "[";
  for (const std::string& header : headers) {
    if (json.size() > 1) json += ',';
    AppendJsonString(json, std::string_view(header).substr(0, header.find(':')));
  }
  return json + "]";
}

}  // namespace

std::string RedactedCommandLineJson(const std::vector<std::string>& given) {
  std::string json = "[";
  bool after_proxy = false;
  for (const std::string& arg : HideHeaderValues(given)) {
    if (json.size() > 1) json += ',';
    AppendJsonString(json, RedactArg(arg, after_proxy));
    after_proxy = arg == "--proxy";
  }
  return json + "]";
}

std::string OptionsJson(const Options& o) {
  const DownloadOptions& d = o.download;
  return JsonObject()
      .Add("input", o.input)
      .Add("output", o.output_dir)
      .Add("filter", o.filter_spec.text)
      .Add("format", o.filter_output.format == OutputFormat::kUnknown
                         ? std::string_view("input")
                         : FormatName(o.filter_output.format))
      .Add("quality", int64_t{o.filter_output.quality})
      .Add("keep_metadata", o.filter_output.keep_metadata)
      .Add("max_pixels", o.filter_output.max_pixels)
      .Add("workers", uint64_t{o.workers})
      .Add("bind", o.bind)
      // How remote workers connect: "curve" (encrypted, admitted keys only), "insecure" (plain
      // TCP, said at start) or "" (plain on loopback, or no --bind).
      .Add("worker_security", !o.curve_secret.empty() ? std::string_view("curve")
                              : o.insecure            ? std::string_view("insecure")
                                                      : std::string_view(""))
      .Add("allow_workers", o.allow_workers)
      .Add("max_attempts", uint64_t{o.max_attempts})
      .Add("job_timeout_s", static_cast<double>(o.job_timeout_ms()) / 1000)
      .Add("concurrency", uint64_t{d.concurrency})
      .Add("per_host", uint64_t{d.per_host})
      .Add("timeout_s", static_cast<double>(d.timeout_ms) / 1000)
      .Add("retries", uint64_t{d.retry.retries})
      .Add("max_image_bytes", d.max_image_bytes)
      .Add("allow_private_networks", d.allow_private_networks)
      .Add("allowed_private_networks", o.allowed_private_networks)
      .Add("proxy", d.proxy.empty() ? std::string() : RedactUrl(d.proxy, 4096))
      .Add("ca_file", d.ca_file)
      .Add("http_version", d.http_version)
      .Add("rate", d.health.rate)
      .Add("burst", d.health.burst)
      .AddRaw("header_names", HeaderNamesJson(d.headers))  // never their values
      .Add("headers_file", o.headers_file)
      .Add("user_agent", d.user_agent)
      .Add("max_memory", o.max_memory)
      .Add("max_bad_records", uint64_t{o.max_bad_records})
      .Add("id_field", o.record_fields.id)
      .Add("name_field", o.record_fields.name)
      .Add("url_field", o.record_fields.image_url)
      .Add("shard", o.input_shard.Text())
      .Add("fan_out", o.fan_out)
      .Add("dedupe", o.dedupe)
      .Add("resume", o.resume)
      .Add("retry_failed", o.retry_failed)
      .Add("overwrite", o.overwrite)
      .Add("sequential", o.sequential)
      .Add("durable", o.durable)
      .Add("grace_s", static_cast<double>(o.grace_ms()) / 1000)
      .Done();
}

}  // namespace pixelmill
