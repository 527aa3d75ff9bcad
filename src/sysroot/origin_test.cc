#include "sysroot/origin.h"

#include <glib.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "util/error.h"

namespace hull::sysroot {
namespace {

using testing::HasSubstr;

TEST(OriginImageRef, RendersOstreeImageReferences) {
  const std::pair<const char*, const char*> cases[] = {
      {"quay.io/example/os:stable", "ostree-unverified-registry:quay.io/example/os:stable"},
      {"localhost:5000/hull/os:1", "ostree-unverified-registry:localhost:5000/hull/os:1"},
      {"debian", "ostree-unverified-registry:docker.io/library/debian:latest"},
      {"oci:/var/lib/images/os", "ostree-unverified-image:oci:/var/lib/images/os"},
      {"oci:/var/lib/images/os:v2", "ostree-unverified-image:oci:/var/lib/images/os:v2"},
      {"oci-archive:/tmp/os.tar:latest", "ostree-unverified-image:oci-archive:/tmp/os.tar:latest"},
  };
  for (const auto& [name, want] : cases) {
    SCOPED_TRACE(name);
    image::ImageName n = image::ImageName::parse(name);
    EXPECT_EQ(origin_image_ref(n), want);
    EXPECT_EQ(parse_origin_image_ref(want).str(), n.str());
  }
}

TEST(OriginImageRef, ParsesEveryUnverifiedForm) {
  const std::pair<const char*, const char*> cases[] = {
      {"ostree-unverified-registry:quay.io/x/y:1", "docker://quay.io/x/y:1"},
      {"ostree-unverified-image:registry:quay.io/x/y:1", "docker://quay.io/x/y:1"},
      {"ostree-unverified-image:docker://quay.io/x/y:1", "docker://quay.io/x/y:1"},
      {"ostree-unverified-registry:quay.io/x/y@sha256:5db6d8b5f34d3cbdaa1e82ed0152a5ac980076d19317d4269db149cbde057bb2",
       "docker://quay.io/x/y@sha256:5db6d8b5f34d3cbdaa1e82ed0152a5ac980076d19317d4269db149cbde057bb2"},
      {"ostree-unverified-image:oci:/srv/os", "oci:/srv/os"},
      {"ostree-unverified-image:oci:/srv/os:v1", "oci:/srv/os:v1"},
      {"ostree-unverified-image:oci-archive:/srv/os.tar", "oci-archive:/srv/os.tar"},
  };
  for (const auto& [in, want] : cases) {
    SCOPED_TRACE(in);
    EXPECT_EQ(parse_origin_image_ref(in).str(), want);
  }
}

TEST(OriginImageRef, SignedFormsRememberEnforcement) {
  const std::pair<const char*, const char*> cases[] = {
      {"ostree-image-signed:docker://quay.io/x/y:1", "docker://quay.io/x/y:1"},
      {"ostree-image-signed:registry:quay.io/x/y:1", "docker://quay.io/x/y:1"},
      {"ostree-image-signed:oci:/srv/os:v1", "oci:/srv/os:v1"},
  };
  for (const auto& [in, want] : cases) {
    SCOPED_TRACE(in);
    bool enforce = false;
    EXPECT_EQ(parse_origin_image_ref(in, &enforce).str(), want);
    EXPECT_TRUE(enforce);
  }
  bool enforce = true;
  parse_origin_image_ref("ostree-unverified-registry:quay.io/x/y:1", &enforce);
  EXPECT_FALSE(enforce);
  image::ImageName n = image::ImageName::parse("quay.io/x/y:1");
  EXPECT_EQ(origin_image_ref(n, true), "ostree-image-signed:docker://quay.io/x/y:1");
  Origin o = origin_for_image(n, true);
  ASSERT_TRUE(origin_container_image(o, &enforce));
  EXPECT_TRUE(enforce);
}

TEST(OriginImageRef, RefusesWithAReason) {
  const std::pair<const char*, const char*> cases[] = {
      {"ostree-remote-image:fedora:docker://quay.io/x/y:1", "verified by an ostree remote's GPG keys"},
      {"ostree-remote-registry:fedora:quay.io/x/y:1", "verified by an ostree remote's GPG keys"},
      {"ostree-image-signed:quay.io/x/y:1", "unknown transport \"quay.io/x/y\""},
      {"ostree-unverified-image:containers-storage:localhost/os", "the containers-storage transport is not supported"},
      {"ostree-unverified-image:dir:/srv/os", "the dir transport is not supported"},
      {"ostree-unverified-image:docker:quay.io/x/y", "missing // in docker://"},
      {"ostree-unverified-image:ftp:x", "unknown transport \"ftp\""},
      {"ostree-unverified-image:oci", "missing ':'"},
      {"ostree-unverified-image:oci:", "empty image name"},
      {"ostree-unverified-registry:", "empty image name"},
      {"ostree-unverified-registry:UPPER/case", "invalid image reference"},
      {"quay.io/x/y:1", "unknown scheme \"quay.io/x/y\""},
      {"no-colon", "missing ':'"},
  };
  for (const auto& [in, why] : cases) {
    SCOPED_TRACE(in);
    try {
      parse_origin_image_ref(in);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr(std::string("invalid origin image reference \"") + in + "\""));
      EXPECT_THAT(e.what(), HasSubstr(why));
    }
  }
}

TEST(OriginFile, ForAnImage) {
  Origin o = origin_for_image(image::ImageName::parse("oci:/srv/os:v1"));
  EXPECT_EQ(render_origin(o), "[origin]\ncontainer-image-reference=ostree-unverified-image:oci:/srv/os:v1\n");
  EXPECT_EQ(origin_container_image(o)->str(), "oci:/srv/os:v1");
  EXPECT_FALSE(origin_incompatible(o));
}

TEST(OriginFile, KeepsWhatOthersWrote) {
  const char* text =
      "# written by libostree\n"
      "[origin]\n"
      "container-image-reference = ostree-unverified-registry:quay.io/x/y:1\n"
      "unlocked=development\n"
      "\n"
      "[libostree-transient]\n"
      "pinned=true\n";
  Origin o = parse_origin(text);
  ASSERT_EQ(o.groups.size(), 2u);
  EXPECT_EQ(*o.get("origin", "unlocked"), "development");
  EXPECT_EQ(*o.get("libostree-transient", "pinned"), "true");
  EXPECT_EQ(o.get("origin", "refspec"), nullptr);
  EXPECT_EQ(origin_container_image(o)->str(), "docker://quay.io/x/y:1");
  EXPECT_EQ(render_origin(o),
            "[origin]\ncontainer-image-reference=ostree-unverified-registry:quay.io/x/y:1\nunlocked=development\n"
            "\n[libostree-transient]\npinned=true\n");
  EXPECT_EQ(parse_origin(render_origin(o)), o);
}

TEST(OriginFile, OstreeOnlyAndRpmOstreeOrigins) {
  Origin plain = parse_origin("[origin]\nrefspec=fedora:fedora/x86_64/coreos/stable\n");
  EXPECT_FALSE(origin_container_image(plain));
  Origin layered = parse_origin(
      "[origin]\ncontainer-image-reference=ostree-unverified-registry:quay.io/x/y:1\n\n[packages]\nrequested=vim\n");
  EXPECT_TRUE(origin_incompatible(layered));
}

TEST(OriginFile, SetReplacesOrAppends) {
  Origin o = parse_origin("[origin]\na=1\n");
  o.set("origin", "a", "2");
  o.set("origin", "b", "3");
  o.set("other", "c", "4");
  EXPECT_EQ(render_origin(o), "[origin]\na=2\nb=3\n\n[other]\nc=4\n");
}

TEST(OriginFile, ParseErrorsNameTheLine) {
  const std::pair<const char*, const char*> cases[] = {
      {"key=value\n", "origin file line 1: key outside any [group]"},
      {"[origin]\njust text\n", "origin file line 2: expected key=value"},
      {"[origin\n", "origin file line 1: invalid group header"},
      {"[origin]\n=x\n", "origin file line 2: empty key"},
      {"[origin]\na=b\\q\n", "origin file line 2: invalid escape \\q"},
      {"[origin]\na=b\\\n", "origin file line 2: value ends in a lone backslash"},
  };
  for (const auto& [text, why] : cases) {
    SCOPED_TRACE(text);
    try {
      parse_origin(text);
      ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
      EXPECT_THAT(e.what(), HasSubstr(why));
    }
  }
}

// The text functions agree with GLib's GKeyFile, which libostree uses to
// read and write the same files.
TEST(OriginFile, AgreesWithGKeyFile) {
  const std::vector<std::tuple<const char*, const char*, const char*>> entries = {
      {"origin", "container-image-reference", "ostree-unverified-image:oci:/srv/my images/os:v1"},
      {"origin", "odd", "  two leading spaces, a\\backslash,\ta tab\nand a newline\r"},
      {"origin", "empty", ""},
      {"libostree-transient", "pinned", "true"},
      {"third", "k", "\tleading tab"},
  };
  GKeyFile* kf = g_key_file_new();
  Origin ours;
  for (const auto& [g, k, v] : entries) {
    g_key_file_set_string(kf, g, k, v);
    ours.set(g, k, v);
  }
  gsize len = 0;
  char* data = g_key_file_to_data(kf, &len, nullptr);
  std::string theirs(data, len);
  g_free(data);
  EXPECT_EQ(render_origin(ours), theirs);

  // And what GKeyFile writes, we read back as GKeyFile does.
  Origin parsed = parse_origin(theirs);
  for (const auto& [g, k, v] : entries) {
    SCOPED_TRACE(k);
    ASSERT_NE(parsed.get(g, k), nullptr);
    char* got = g_key_file_get_string(kf, g, k, nullptr);
    EXPECT_EQ(*parsed.get(g, k), got);
    EXPECT_EQ(*parsed.get(g, k), v);
    g_free(got);
  }
  g_key_file_unref(kf);
}

}  // namespace
}  // namespace hull::sysroot
