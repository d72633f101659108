// The status page served at GET /: one self-contained HTML document (styles, script and charts
// inline; nothing fetched from elsewhere), built into the binary from status_page.html.
#pragma once

#include <string_view>

namespace sluice::server::monitor {

std::string_view StatusPageHtml();

}  // namespace sluice::server::monitor
