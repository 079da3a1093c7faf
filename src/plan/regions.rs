//! Cloud region names and the abbreviations people put in resource names, to check a
//! declared `region` against the region its base_url names (the wrong-region paste) and
//! to compare residency lists. Azure resource names carry short forms (`contoso-weu`),
//! AWS hosts `eu-west-1`, Google hosts `europe-west4-…`.
//!
//! Pure lookups; nothing here knows about scenarios.

/// (canonical name, abbreviations). Abbreviations count only in Azure host names, where
/// resource names use them; full names count in any host.
const AZURE: &[(&str, &[&str])] = &[
    ("westeurope", &["weu", "euw"]),
    ("northeurope", &["neu", "eun"]),
    ("eastus", &["eus", "use"]),
    ("eastus2", &["eus2", "use2"]),
    ("westus", &["wus", "usw"]),
    ("westus2", &["wus2", "usw2"]),
    ("westus3", &["wus3", "usw3"]),
    ("centralus", &["cus"]),
    ("northcentralus", &["ncus"]),
    ("southcentralus", &["scus"]),
    ("uksouth", &["uks", "suk"]),
    ("ukwest", &["ukw"]),
    ("francecentral", &["frc", "frce"]),
    ("germanywestcentral", &["gwc", "dewc"]),
    ("swedencentral", &["swc", "sdc", "sec"]),
    ("switzerlandnorth", &["chn", "szn", "stzn"]),
    ("norwayeast", &["noe", "nwe"]),
    ("polandcentral", &["plc"]),
    ("italynorth", &["itn"]),
    ("spaincentral", &["spc"]),
    ("japaneast", &["jpe", "jea"]),
    ("japanwest", &["jpw", "jwe"]),
    ("koreacentral", &["krc"]),
    ("australiaeast", &["aue", "eau"]),
    ("canadaeast", &["cae"]),
    ("canadacentral", &["cac", "cnc"]),
    ("brazilsouth", &["brs"]),
    ("southafricanorth", &["san"]),
    ("southeastasia", &["sea"]),
    ("eastasia", &["eas"]),
    ("centralindia", &["inc", "cin"]),
    ("southindia", &["ins"]),
    ("uaenorth", &["uan"]),
];

const AWS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-south-1",
    "sa-east-1",
    "me-central-1",
];

const GCP: &[&str] = &[
    "us-central1",
    "us-east1",
    "us-east4",
    "us-east5",
    "us-west1",
    "us-west4",
    "us-south1",
    "northamerica-northeast1",
    "europe-west1",
    "europe-west2",
    "europe-west3",
    "europe-west4",
    "europe-west6",
    "europe-west8",
    "europe-west9",
    "europe-north1",
    "europe-central2",
    "europe-southwest1",
    "asia-northeast1",
    "asia-northeast3",
    "asia-southeast1",
    "asia-south1",
    "australia-southeast1",
    "me-west1",
];

/// The canonical name of a region written as a name or an Azure abbreviation
/// (case-insensitive), or `None` when llm-drill does not know it.
pub fn canonical(region: &str) -> Option<&'static str> {
    let r = region.trim().to_ascii_lowercase();
    // Azure's display names ("West Europe", as `x-ms-region` says it) without spaces.
    let r = if r.contains(' ') {
        r.replace(' ', "")
    } else {
        r
    };
    AZURE
        .iter()
        .find(|(name, aliases)| *name == r || aliases.contains(&r.as_str()))
        .map(|(name, _)| *name)
        .or_else(|| AWS.iter().chain(GCP).find(|n| **n == r).copied())
}

#[cfg(test)]
mod display_names {
    #[test]
    fn bedrock_inference_profiles_name_their_geography() {
        use super::inference_profile as p;
        assert_eq!(
            p("eu.anthropic.claude-3-7-sonnet-20250219-v1:0"),
            Some("the EU")
        );
        assert_eq!(
            p("global.anthropic.claude-sonnet-4-5-20250929-v1:0"),
            Some("any commercial AWS region")
        );
        assert_eq!(
            p("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.meta.llama3-3-70b-instruct-v1:0"),
            Some("the United States")
        );
        assert_eq!(p("anthropic.claude-3-5-sonnet-20240620-v1:0"), None);
        assert_eq!(p("eu.model"), None);
    }

    #[test]
    fn azure_display_names_are_canonical() {
        assert_eq!(super::canonical("West Europe"), Some("westeurope"));
        assert_eq!(super::canonical("Sweden Central"), Some("swedencentral"));
        assert_eq!(super::canonical("eu-west-1"), Some("eu-west-1"));
    }
}

/// Whether two region names mean the same region (unknown names: the same text).
pub fn same(a: &str, b: &str) -> bool {
    match (canonical(a), canonical(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a.trim().eq_ignore_ascii_case(b.trim()),
    }
}

/// The geography a Bedrock cross-region inference profile routes within, from its id
/// (`eu.anthropic.claude-3-7-sonnet-20250219-v1:0`): Bedrock may serve each call from
/// any region of it, whatever region the request was sent to. `global.` routes
/// anywhere. `None` for a model id that is not a profile.
pub fn inference_profile(model_id: &str) -> Option<&'static str> {
    // An ARN names the profile after its last `/`.
    let id = model_id.rsplit('/').next().unwrap_or(model_id);
    let prefix = id.split('.').next()?;
    const PROFILES: [(&str, &str); 8] = [
        ("us", "the United States"),
        ("us-gov", "AWS GovCloud (US)"),
        ("eu", "the EU"),
        ("apac", "Asia Pacific"),
        ("jp", "Japan"),
        ("au", "Australia"),
        ("ca", "Canada"),
        ("global", "any commercial AWS region"),
    ];
    // A prefix followed by the model's vendor: `eu.anthropic…`, not `anthropic.…`.
    (id.split('.').count() > 2)
        .then(|| PROFILES.iter().find(|(p, _)| *p == prefix).map(|(_, g)| *g))
        .flatten()
}

/// The region a URL's host names, if it names one: `contoso-weu.openai.azure.com` →
/// westeurope, `bedrock-runtime.eu-west-1.amazonaws.com` → eu-west-1,
/// `europe-west4-aiplatform.googleapis.com` → europe-west4.
pub fn in_host(host: &str) -> Option<&'static str> {
    let host = host.to_ascii_lowercase();
    let azure = host.ends_with(".azure.com") || host.ends_with(".azure-api.net");
    let names = AZURE
        .iter()
        .map(|(n, _)| (*n, *n))
        .chain(AWS.iter().chain(GCP).map(|n| (*n, *n)))
        .chain(
            AZURE
                .iter()
                .filter(|_| azure)
                .flat_map(|(n, aliases)| aliases.iter().map(move |a| (*a, *n))),
        );
    let labels: Vec<Vec<&str>> = host.split('.').map(|l| l.split('-').collect()).collect();
    // The longest match wins: `eu-west-1` over a stray `eus`.
    names
        .filter(|(written, _)| {
            let parts: Vec<&str> = written.split('-').collect();
            labels
                .iter()
                .any(|tokens| tokens.windows(parts.len()).any(|w| w == parts.as_slice()))
        })
        .max_by_key(|(written, _)| written.len())
        .map(|(_, canonical)| canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_name_their_regions() {
        assert_eq!(in_host("contoso-weu.openai.azure.com"), Some("westeurope"));
        assert_eq!(in_host("contoso-eastus2.openai.azure.com"), Some("eastus2"));
        assert_eq!(
            in_host("oai-prod-swc-01.openai.azure.com"),
            Some("swedencentral")
        );
        assert_eq!(
            in_host("bedrock-runtime.eu-west-1.amazonaws.com"),
            Some("eu-west-1")
        );
        assert_eq!(
            in_host("europe-west4-aiplatform.googleapis.com"),
            Some("europe-west4")
        );
        assert_eq!(in_host("vllm.eu-central-1.internal"), Some("eu-central-1"));
        assert_eq!(in_host("api.openai.com"), None);
        assert_eq!(in_host("api.anthropic.com"), None);
        // Abbreviations count in Azure names only: `use` is a word elsewhere.
        assert_eq!(in_host("use-proxy.example.com"), None);
        assert_eq!(in_host("contoso.openai.azure.com"), None);
    }

    #[test]
    fn aliases_are_the_same_region() {
        assert!(same("westeurope", "WEU"));
        assert!(same("westeurope", "westeurope"));
        assert!(!same("westeurope", "northeurope"));
        assert!(same("us-east", "us-east"));
        assert!(!same("eastus", "us-east-1"));
        assert_eq!(canonical("eus2"), Some("eastus2"));
        assert_eq!(canonical("mars-north"), None);
    }
}
