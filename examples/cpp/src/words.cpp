#include "textkit/words.hpp"

#include <cctype>

namespace textkit {

std::map<std::string, int> count_words(const std::string &text)
{
    std::map<std::string, int> counts;
    std::string word;
    for (char c : text + " ") {
        if (std::isalnum(static_cast<unsigned char>(c))) {
            word += c;
        } else if (!word.empty()) {
            ++counts[to_lower(word)];
            word.clear();
        }
    }
    return counts;
}

}  // namespace textkit
