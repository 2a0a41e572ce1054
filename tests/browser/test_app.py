"""The web app in headless Chromium, against the real binary, PostgreSQL and the fake provider.

Run by scripts/browser-test.sh, which starts everything and sets BASE_URL, FAIL_FILE (while it
exists the fake provider fails flashcards, distractors and skill-tree calls), SCREENSHOTS,
CHROMIUM and CHROMEDRIVER. The tests run in order (unittest sorts them by name) and share one
browser: a learner signs in, creates a plan, studies, and another learner finds nothing of theirs.
"""

import json
import os
import pathlib
import tempfile
import time
import unittest
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

BASE_URL = os.environ["BASE_URL"]
FAIL_FILE = pathlib.Path(os.environ["FAIL_FILE"])
SHOTS = pathlib.Path(os.environ["SCREENSHOTS"])
# Generous for a loaded 2-core machine; the fake provider streams a plan over 6 s.
WAIT_S = 30

# Total layout shift (CLS-style sum, without shifts right after input) since `since` ms.
LAYOUT_SHIFT_JS = """
const since = arguments[0];
const done = arguments[arguments.length - 1];
new PerformanceObserver((list, observer) => {
  observer.disconnect();
  const total = list.getEntries()
    .filter((e) => e.startTime > since && !e.hadRecentInput)
    .reduce((sum, e) => sum + e.value, 0);
  done(total);
}).observe({ type: 'layout-shift', buffered: true });
setTimeout(() => done(0), 1000);
"""


class WebApp(unittest.TestCase):
    driver = None
    state = {}

    @classmethod
    def setUpClass(cls):
        options = webdriver.ChromeOptions()
        options.binary_location = os.environ["CHROMIUM"]
        profile = tempfile.mkdtemp(prefix="syllabus-chromium-")
        for arg in [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--window-size=1280,1000",
        ]:
            options.add_argument(arg)
        cls.driver = webdriver.Chrome(service=Service(os.environ["CHROMEDRIVER"]), options=options)
        cls.driver.set_script_timeout(5)

    @classmethod
    def tearDownClass(cls):
        if cls.driver:
            cls.driver.quit()
        FAIL_FILE.unlink(missing_ok=True)

    def tearDown(self):
        # A failing test leaves a picture of what the learner saw.
        outcome = getattr(self, "_outcome", None)
        result = getattr(outcome, "result", None)
        if result and any(t is self for t, _ in result.failures + result.errors):
            self.shot(f"failed-{self._testMethodName}")

    # Helpers --------------------------------------------------------------------------------

    def shot(self, name):
        self.driver.save_screenshot(str(SHOTS / f"{name}.png"))

    def wait(self, condition, timeout=WAIT_S, message=""):
        return WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(condition, message)

    def find(self, css):
        return self.wait(EC.visibility_of_element_located((By.CSS_SELECTOR, css)), message=css)

    def click(self, css):
        self.wait(EC.element_to_be_clickable((By.CSS_SELECTOR, css)), message=css).click()

    def button(self, text):
        xpath = f"//button[normalize-space()='{text}']"
        return self.wait(EC.element_to_be_clickable((By.XPATH, xpath)), message=text)

    def button_any(self, text):
        """A visible button, enabled or not."""
        xpath = f"//button[normalize-space()='{text}']"
        return self.wait(EC.visibility_of_element_located((By.XPATH, xpath)), message=text)

    def type_into(self, css, text):
        el = self.find(css)
        el.clear()
        el.send_keys(text)
        return el

    def sign_in(self, name):
        self.driver.get(f"{BASE_URL}/#/sign-in")
        self.type_into("#name", name)
        self.button("Sign in").click()
        self.wait(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "[data-testid=user]"), name))

    # The learner's path ----------------------------------------------------------------------

    def test_1_sign_in_with_the_development_form(self):
        self.driver.get(BASE_URL + "/")
        self.wait(EC.url_contains("#/sign-in"))
        self.find("#name")
        self.shot("sign-in")
        # The API's own error for a blank name, next to the field.
        self.button("Sign in").click()
        error = self.find("#name-error")
        self.assertTrue(error.text.strip(), "no error next to the name field")
        self.assertEqual(self.find("#name").get_attribute("aria-invalid"), "true")
        self.sign_in("ada")
        self.wait(EC.url_matches(r"#/$"))
        self.find("form.create")

    def test_2_bad_input_shows_the_apis_field_errors_next_to_each_field(self):
        self.driver.get(f"{BASE_URL}/#/")
        self.type_into("#topic", "a")
        self.type_into("#weekly_hours", "99")
        self.button("Create plan").click()
        topic_error = self.find("#topic-error")
        hours_error = self.find("#weekly_hours-error")
        self.assertTrue(topic_error.text.strip())
        self.assertTrue(hours_error.text.strip())
        for field in ("#topic", "#weekly_hours"):
            self.assertEqual(self.find(field).get_attribute("aria-invalid"), "true", field)
        # The learner stays on the form; nothing was created.
        self.assertIn("No plans yet", self.find(".plan-list").text)
        self.shot("create-field-errors")

    def test_3_a_new_plan_fills_in_module_by_module_then_is_ready(self):
        self.driver.get(f"{BASE_URL}/#/")
        self.type_into("#topic", "Photosynthesis for high school")
        self.type_into("#weekly_hours", "4")
        since = self.driver.execute_script("return performance.now()")
        self.button("Create plan").click()
        self.wait(EC.url_contains("#/plans/"))
        self.state["plan_url"] = self.driver.current_url
        # Previews replace the placeholders while the plan is still pending.
        first = self.find("[data-testid=previews] li.module.preview")
        self.assertTrue(first.text.strip())
        self.wait(
            lambda d: len(d.find_elements(By.CSS_SELECTOR, "[data-testid=previews] li.module.preview")) >= 2,
            message="a second streamed module",
        )
        self.assertIn("Generating", self.find(".meta .chip").text)
        self.shot("plan-streaming")
        modules = self.wait(
            lambda d: d.find_elements(By.CSS_SELECTOR, "[data-testid=modules] > li.module"),
            message="the ready plan's modules",
        )
        self.assertEqual(len(modules), 4)
        self.assertEqual([m.get_attribute("data-order") for m in modules], ["1", "2", "3", "4"])
        self.assertEqual(len(modules[0].find_elements(By.CSS_SELECTOR, ".tasks > li")), 3)
        self.assertIn("Ready", self.find(".meta .chip").text)
        self.assertRegex(self.find("[data-testid=total]").text, r"4 modules, 12 tasks, .* in all")
        shift = self.driver.execute_async_script(LAYOUT_SHIFT_JS, since)
        self.assertLess(shift, 0.1, "placeholders being replaced moved the page")
        # The attempts history, folded under its count.
        self.click("details.attempts > summary")
        row = self.find("[data-testid=attempts] tbody tr")
        self.assertIn("Success", row.text)
        self.assertIn("Attempts (1)", self.find("details.attempts > summary").text)
        self.driver.execute_script("window.scrollTo(0, 0)")
        self.shot("plan-ready")
        # The list shows it with its status chip.
        self.driver.get(f"{BASE_URL}/#/")
        item = self.wait(
            lambda d: d.find_elements(By.XPATH, "//ul[contains(@class,'plan-list')]/li[a]"),
            message="the plan in the list",
        )
        self.assertEqual(len(item), 1)
        self.assertIn("Photosynthesis for high school", item[0].text)
        self.assertIn("Ready", item[0].find_element(By.CSS_SELECTOR, ".chip").text)
        self.shot("plans-list")

    def test_3a_tasks_are_ticked_off_by_keyboard_and_another_tab_follows(self):
        self.driver.get(self.state["plan_url"])
        boxes = self.wait(
            lambda d: d.find_elements(By.CSS_SELECTOR, "[data-testid=modules] input.task-done"),
            message="a checkbox per task",
        )
        self.assertEqual(len(boxes), 12)
        self.assertIn("0 of 12 tasks", self.find("[data-testid=plan-progress]").text)
        # Keyboard only: focus the first task's box and press space.
        first = boxes[0]
        self.driver.execute_script("arguments[0].focus()", first)
        first.send_keys(Keys.SPACE)
        self.wait(
            EC.text_to_be_present_in_element((By.CSS_SELECTOR, "[data-testid=plan-progress]"), "1 of 12 tasks"),
            message="the plan's bar after a tick",
        )
        module_bar = self.find("[data-testid=modules] > li.module [data-testid=module-progress]")
        self.wait(lambda d: "1/3 done" in module_bar.text, message="the module's bar")
        self.assertTrue(first.is_selected())
        # Updated in place: the same element, still focused.
        self.assertEqual(self.driver.switch_to.active_element, first)
        self.shot("progress-ticked")

        # A second tab ticks another task off; the first follows through the event stream.
        one = self.driver.current_window_handle
        self.driver.switch_to.new_window("tab")
        self.driver.get(self.state["plan_url"])
        boxes2 = self.wait(
            lambda d: d.find_elements(By.CSS_SELECTOR, "[data-testid=modules] input.task-done"),
            message="the second tab's checkboxes",
        )
        self.assertTrue(boxes2[0].is_selected())
        self.driver.execute_script("arguments[0].focus()", boxes2[1])
        boxes2[1].send_keys(Keys.SPACE)
        self.wait(
            EC.text_to_be_present_in_element((By.CSS_SELECTOR, "[data-testid=plan-progress]"), "2 of 12 tasks"),
        )
        self.driver.close()
        self.driver.switch_to.window(one)
        self.wait(
            EC.text_to_be_present_in_element((By.CSS_SELECTOR, "[data-testid=plan-progress]"), "2 of 12 tasks"),
            message="the first tab in step with the second",
        )
        self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "input.task-done")[1].is_selected())
        self.driver.execute_script("window.scrollTo(0, 0)")
        self.shot("progress-two-tabs")

        # Regenerate asks first; declining sends nothing and keeps the progress.
        self.button("Regenerate").click()
        alert = self.wait(EC.alert_is_present(), message="the confirmation")
        self.assertIn("discards your progress (2 tasks completed)", alert.text)
        alert.dismiss()
        time.sleep(0.5)
        self.assertIn("2 of 12 tasks", self.find("[data-testid=plan-progress]").text)
        self.assertIn("Attempts (1)", self.find("details.attempts > summary").text)

        # The list shows the plan's bar.
        self.driver.get(f"{BASE_URL}/#/")
        bar = self.find(".plan-list [data-testid=list-progress]")
        self.assertIn("2 of 12 tasks", bar.text)
        self.shot("plans-list-progress")

    def test_3b_a_plan_that_fails_every_attempt_says_why_and_what_is_possible(self):
        self.driver.get(f"{BASE_URL}/#/")
        # The fake provider answers this topic with a plan without modules, every time; at 250
        # characters the topic is also shortened to 200.
        self.type_into("#topic", "always-invalid " + "x" * 235)
        self.button("Create plan").click()
        self.wait(EC.url_contains("#/plans/"))
        self.assertIn("shortened to 200", self.find("[data-testid=truncated]").text)
        failed = self.find("[data-testid=plan-failed]")
        self.assertIn("did not follow the rules", failed.text)
        self.assertIn("used all of its attempts", failed.text)
        self.assertIn("Failed", self.find(".meta .chip").text)
        regenerate = self.button_any("Regenerate")
        self.assertFalse(regenerate.is_enabled(), "regenerate at the cap")
        self.assertIn("All 3 generation attempts are used", self.find("#regen-reason").text)
        self.click("details.attempts > summary")
        rows = self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, "[data-testid=attempts] tbody tr"))
        self.assertEqual(len(rows), 3)
        self.assertTrue(all("validation" in row.text for row in rows))
        self.shot("plan-failed")
        # What is possible: a new plan with the same topic, prefilled.
        self.driver.find_element(By.LINK_TEXT, "Start a new plan with this topic").click()
        self.wait(lambda d: d.find_element(By.ID, "topic").get_attribute("value").startswith("always-invalid"))

    def test_4_flashcards_are_generated_and_a_multiple_choice_question_answered(self):
        self.driver.get(self.state["plan_url"] + "/flashcards")
        self.button("Generate flashcards").click()
        question = self.find("[data-testid=question-answer] .question")
        self.assertTrue(question.text.strip())
        self.shot("flashcards-question")
        self.button("Show answer").click()
        answer = self.find("[data-testid=question-answer] .answer").text
        self.button("Make it multiple choice").click()
        choices = self.find("[data-testid=multiple-choice]")
        labels = choices.find_elements(By.CSS_SELECTOR, ".choice label")
        self.assertEqual(len(labels), 4, "the answer and its 3 distractors")
        next(label for label in labels if label.text == answer).click()
        self.button("Check answer").click()
        self.wait(EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".feedback"), "Correct"))
        self.shot("flashcards-multiple-choice")

    def test_5_a_provider_failure_shows_the_error_and_retry_works(self):
        FAIL_FILE.touch()
        self.driver.get(self.state["plan_url"] + "/skills")
        self.button("Generate skill tree").click()
        failure = self.find("[data-testid=job-failed]")
        self.assertIn("language model service failed", failure.text)
        self.shot("skill-tree-failed")
        FAIL_FILE.unlink()
        self.button("Retry").click()
        tree = self.find("[data-testid=skill-tree]")
        self.assertIn("Foundations", tree.text)
        self.assertIn("1.1", tree.text)
        self.assertFalse(self.driver.find_elements(By.CSS_SELECTOR, "[data-testid=job-failed]"))
        self.shot("skill-tree")
        # Collapsible with the keyboard: the first branch folds away its children.
        summary = self.find("[data-testid=skill-tree] > li > details > summary")
        child = self.find("[data-testid=skill-tree] > li > details > ul > li")
        summary.send_keys("\n")
        self.wait(EC.invisibility_of_element(child), message="the collapsed branch's children")

    def test_6_another_users_plan_url_shows_not_found(self):
        self.driver.get(f"{BASE_URL}/#/")
        self.button("Sign out").click()
        self.wait(EC.url_contains("#/sign-in"))
        # Bob signs in with a token he pastes (as from an identity provider).
        request = urllib.request.Request(
            f"{BASE_URL}/api/v1/session/dev",
            data=json.dumps({"name": "bob"}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            token = json.load(answer)["token"]
        self.type_into("#token", f"Bearer {token}")
        self.button("Use this token").click()
        self.wait(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "[data-testid=user]"), "bob"))
        self.assertIn("No plans yet", self.find(".plan-list").text)
        self.driver.get(self.state["plan_url"])
        self.driver.refresh()
        self.assertIn("not found", self.find("[data-testid=not-found]").text)
        self.shot("not-found")

    def test_7_the_plans_screen_fits_a_phones_width(self):
        self.driver.set_window_size(390, 844)
        try:
            self.driver.get(f"{BASE_URL}/#/")
            self.find("form.create")
            time.sleep(0.3)
            overflow = self.driver.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            self.assertLessEqual(overflow, 0, "the page scrolls sideways at 390 px")
            self.shot("phone-plans")
        finally:
            self.driver.set_window_size(1280, 1000)


if __name__ == "__main__":
    unittest.main()
