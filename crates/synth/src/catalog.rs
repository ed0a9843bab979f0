//! Closed sets of the simulated business: contact reasons and the IVR menu tree, web pages,
//! error codes, bot queries, chat lines, survey comments, product categories.

/// The four top-level IVR branches; also the queue names on both telephony systems.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Intent {
    Billing,
    Orders,
    TechSupport,
    Account,
}

impl Intent {
    pub(crate) const ALL: [Intent; 4] = [
        Intent::Billing,
        Intent::Orders,
        Intent::TechSupport,
        Intent::Account,
    ];

    pub(crate) fn index(self) -> usize {
        match self {
            Intent::Billing => 0,
            Intent::Orders => 1,
            Intent::TechSupport => 2,
            Intent::Account => 3,
        }
    }

    /// Menu name, queue name and Connect `intent` attribute.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Intent::Billing => "billing",
            Intent::Orders => "orders",
            Intent::TechSupport => "tech_support",
            Intent::Account => "account",
        }
    }

    /// Sub-menus of the branch.
    pub(crate) fn topics(self) -> &'static [&'static str] {
        match self {
            Intent::Billing => &["payments", "balance", "refund"],
            Intent::Orders => &["status", "returns", "change"],
            Intent::TechSupport => &["login", "website", "mobile_app"],
            Intent::Account => &["update_details", "password", "close_account"],
        }
    }

    /// Salesforce Case `Reason`.
    pub(crate) fn case_reason(self) -> &'static str {
        match self {
            Intent::Billing => "Billing",
            Intent::Orders => "Order Issue",
            Intent::TechSupport => "Technical",
            Intent::Account => "Account Management",
        }
    }

    /// Asterisk queue extension.
    pub(crate) fn extension(self) -> &'static str {
        match self {
            Intent::Billing => "7001",
            Intent::Orders => "7002",
            Intent::TechSupport => "7003",
            Intent::Account => "7004",
        }
    }
}

/// Leaves the IVR can serve on its own.
pub(crate) fn self_service(topic: &str) -> bool {
    matches!(topic, "balance" | "payments" | "status" | "password")
}

/// A help-centre page per topic: (path, title).
pub(crate) fn help_page(topic: &str) -> (&'static str, &'static str) {
    match topic {
        "payments" => ("/help/payments", "Payment options | Help"),
        "balance" => ("/help/billing", "Your bill | Help"),
        "refund" => ("/help/refunds", "Refunds | Help"),
        "status" => ("/help/order-status", "Track your order | Help"),
        "returns" => ("/help/returns", "Returns and exchanges | Help"),
        "change" => ("/help/change-order", "Change or cancel an order | Help"),
        "login" => ("/help/sign-in", "Trouble signing in | Help"),
        "website" => ("/help/website", "Website problems | Help"),
        "mobile_app" => ("/help/app", "Mobile app | Help"),
        "update_details" => ("/help/account-details", "Update your details | Help"),
        "password" => ("/help/password", "Reset your password | Help"),
        _ => ("/help/close-account", "Close your account | Help"),
    }
}

/// Bot-search queries per topic.
pub(crate) fn bot_queries(topic: &str) -> &'static [&'static str] {
    match topic {
        "payments" => &[
            "update card",
            "payment declined",
            "pay my bill",
            "change payment method",
        ],
        "balance" => &[
            "how much do i owe",
            "account balance",
            "why was i charged twice",
        ],
        "refund" => &["refund status", "where is my refund", "refund not received"],
        "status" => &[
            "where is my order",
            "track order",
            "order not arrived",
            "delivery date",
        ],
        "returns" => &["return an item", "return label", "exchange size"],
        "change" => &[
            "cancel order",
            "change delivery address",
            "add item to order",
        ],
        "login" => &["cant log in", "locked out", "two factor code not received"],
        "website" => &[
            "checkout not working",
            "page error",
            "cart empty after login",
        ],
        "mobile_app" => &["app crashes", "app wont open", "update app"],
        "update_details" => &["change email", "change address", "update phone number"],
        "password" => &["reset password", "forgot password", "password link expired"],
        _ => &["close my account", "delete account", "unsubscribe"],
    }
}

/// (customer opener, agent reply, customer follow-up) lines per topic.
pub(crate) fn chat_lines(topic: &str) -> (&'static str, &'static str, &'static str) {
    match topic {
        "payments" => (
            "Hi, my card keeps getting declined at checkout",
            "Sorry about that! Could you tell me the last 4 digits of the card?",
            "It ends in 4242, and it works everywhere else",
        ),
        "balance" => (
            "Hello, why was I charged twice this month?",
            "Let me check your billing history, one moment please.",
            "ok thanks",
        ),
        "refund" => (
            "I returned an item 2 weeks ago and still no refund",
            "I'm sorry for the wait. Can you share the order number?",
            "Sure, it's on the confirmation email",
        ),
        "status" => (
            "where is my order?? it said 3-5 days",
            "Let me look that up for you. What's the order number?",
            "I don't have it, can you search by email?",
        ),
        "returns" => (
            "How do I return a jacket that doesn't fit?",
            "Happy to help! I'll send you a prepaid return label.",
            "great, thank you",
        ),
        "change" => (
            "Can I still change the delivery address on my order?",
            "If it hasn't shipped yet, yes. Let me check.",
            "It's urgent, I'm moving on Friday",
        ),
        "login" => (
            "I can't log in, it says my password is wrong",
            "I can help with that. Did you receive the reset email?",
            "No, nothing in spam either",
        ),
        "website" => (
            "Checkout page shows an error when I click pay",
            "Thanks for reporting this. Which browser are you using?",
            "Chrome on my laptop",
        ),
        "mobile_app" => (
            "The app crashes every time I open my orders",
            "Sorry! Could you try updating to the latest version?",
            "Already did, still crashing",
        ),
        "update_details" => (
            "I need to update my email address",
            "No problem, I can do that for you after verifying your account.",
            "ok",
        ),
        "password" => (
            "password reset link expired",
            "I'll send you a new link right now.",
            "got it, thanks!",
        ),
        _ => (
            "Please close my account",
            "I'm sorry to see you go. Can I ask what went wrong?",
            "Too many problems with deliveries",
        ),
    }
}

/// Presale questions from visitors who are not customers.
pub(crate) const PRESALE_LINES: &[(&str, &str)] = &[
    (
        "Do you ship to Canada?",
        "We do! Shipping to Canada takes 5-8 business days.",
    ),
    (
        "Is the blue one back in stock soon?",
        "It should be back next week, want me to notify you?",
    ),
    (
        "Do you have gift cards?",
        "Yes, digital gift cards are available from $10.",
    ),
];

/// Web error codes shown to visitors: (code, message, topic it causes).
pub(crate) const WEB_ERRORS: &[(&str, &str, &str)] = &[
    ("PAY-402", "Your card was declined.", "payments"),
    (
        "PAY-500",
        "We couldn't process your payment. Please try again.",
        "payments",
    ),
    (
        "CHK-409",
        "Your cart changed while you were checking out.",
        "website",
    ),
    ("AUTH-401", "Incorrect email or password.", "login"),
    (
        "APP-500",
        "Something went wrong. Please try again later.",
        "website",
    ),
    ("ORD-404", "We couldn't find that order.", "status"),
];

/// Product categories of orders (Product_Category__c) and their store paths.
pub(crate) const CATEGORIES: &[(&str, &str)] = &[
    ("Music", "music"),
    ("Books", "books"),
    ("Movies", "movies"),
    ("Electronics", "electronics"),
    ("Home & Kitchen", "home-kitchen"),
    ("Apparel", "apparel"),
    ("Toys & Games", "toys-games"),
];

/// Browsing pages outside the product tree: (path, title).
pub(crate) const BROWSE_PAGES: &[(&str, &str)] = &[
    ("/", "Home | Example Store"),
    ("/deals", "Today's deals | Example Store"),
    ("/new", "New arrivals | Example Store"),
    ("/stores", "Store locator | Example Store"),
    ("/blog/gift-guide", "Gift guide | Example Store"),
];

/// Button labels clicked on the site.
pub(crate) const BUTTONS: &[&str] = &[
    "Add to cart",
    "Add to wishlist",
    "View details",
    "Apply coupon",
    "Filter",
    "Sort by price",
    "Next page",
];

/// Referrers of landing pages.
pub(crate) const REFERRERS: &[&str] = &[
    "",
    "https://www.google.com/",
    "https://www.bing.com/",
    "https://mail.example.com/",
    "https://social.example.net/",
];

/// Survey comments by sentiment: negative, neutral, positive. Some contain commas, quotes and
/// line breaks on purpose.
pub(crate) const COMMENTS_NEG: &[&str] = &[
    "Waited forever on hold, then got transferred twice.",
    "The \"automated\" menu didn't understand me, I had to repeat myself 3 times",
    "Still not fixed.\nI've called about this before and nobody follows up.",
    "Agent was polite, but the problem is not solved",
    "terrible",
    "Your website kept showing an error, so I had to call. Waste of time.",
];
pub(crate) const COMMENTS_MID: &[&str] = &[
    "ok",
    "It was fine, a bit slow",
    "Got there in the end, but it took a while.",
    "Agent was nice; the wait was long",
];
pub(crate) const COMMENTS_POS: &[&str] = &[
    "Great service, thanks!",
    "Quick and easy.",
    "The agent, Sam, was super helpful and explained everything",
    "Solved in 2 minutes.\nThank you!",
    "Very \"human\" experience, loved it",
    "Excellent",
];

/// Case subjects per topic.
pub(crate) fn case_subject(topic: &str) -> &'static str {
    match topic {
        "payments" => "Payment declined at checkout",
        "balance" => "Question about charges on statement",
        "refund" => "Refund not received",
        "status" => "Order not delivered",
        "returns" => "Return request",
        "change" => "Change delivery address, order in transit",
        "login" => "Customer cannot sign in",
        "website" => "Error on checkout page: \"Something went wrong\"",
        "mobile_app" => "Mobile app crashes on Orders screen",
        "update_details" => "Update contact details",
        "password" => "Password reset link expired",
        _ => "Account closure request",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_topic_has_texts() {
        for intent in Intent::ALL {
            for topic in intent.topics() {
                assert!(!bot_queries(topic).is_empty());
                assert!(!case_subject(topic).is_empty());
                assert!(!help_page(topic).0.is_empty());
                assert!(!chat_lines(topic).0.is_empty());
            }
        }
    }
}
