"""Operators: connect, start/stop a local backend, the four ops, and job controls.

Each op operator reads its settings from its own properties when a script sets them, otherwise
from the scene's Kiln panel settings. With ``wait`` (the default under ``blender -b``) it blocks until
the job ends and applies the result before returning; otherwise it returns at once and the
result is applied by the timer when it arrives.
"""
from __future__ import annotations

import json

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, StringProperty

from . import op_params, preferences, props, results, scene, session
from .backend_process import BackendProcessError
from .session import SessionError

BACKEND_START_WAIT_S = 60.0


def should_wait(op) -> bool:
    """The operator's ``wait`` if the caller set it; otherwise wait only under ``blender -b``."""
    return op.wait if op.properties.is_property_set("wait") else bpy.app.background


def console_progress():
    """A wait callback for ``blender -b`` that prints a line per stage and per 10% of progress."""
    last = [None]

    def show(record) -> None:
        step = (record.stage, int(record.fraction * 10))
        if step != last[0] and record.job:
            last[0] = step
            print(f"Kiln {record.op} {record.job}: {record.stage or record.state} {record.fraction:.0%}", flush=True)
    return show


def _report_exception(op, exc: Exception) -> set:
    op.report({"ERROR"}, f"Kiln: {exc}")
    return {"CANCELLED"}


def start_local_backend(context) -> None:
    """Start the backend configured in preferences (raises BackendProcessError / SessionError)."""
    prefs = preferences.get(context)
    sess = session.get()
    address = prefs.address.strip()
    if not session.is_loopback(address):
        raise SessionError(f"a local backend needs a local address (tcp://127.0.0.1:<port>), not {address}")
    command = sess.backend.command_for(bpy.path.abspath(prefs.backend_python), prefs.backend_arguments,
                                       address, str(preferences.user_dir("store")))
    sess.backend.start(command, bpy.path.abspath(prefs.backend_workdir) if prefs.backend_workdir else "",
                       preferences.user_dir("logs") / "backend.log")


class KILN_OT_connect(bpy.types.Operator):
    """Connect to the Kiln backend set in the add-on preferences (starting a local one if enabled)"""

    bl_idname = "kiln.connect"
    bl_label = "Connect"
    bl_options = {"REGISTER"}

    wait: BoolProperty(name="Wait", default=False, options={"SKIP_SAVE"},
                       description="Block until connected (the default under blender -b)")

    def execute(self, context):
        prefs = preferences.get(context)
        sess = session.get()
        wait = should_wait(self)
        retry = 0.0
        try:
            if prefs.start_local and not sess.backend.running:
                start_local_backend(context)
                retry = BACKEND_START_WAIT_S
            sess.connect(prefs.settings(), wait=wait, retry_for=retry)
        except (SessionError, BackendProcessError) as exc:
            return _report_exception(self, exc)
        if wait:
            self.report({"INFO"}, f"Kiln: connected to {prefs.address} ({sess.welcome.get('device', '?')})")
        return {"FINISHED"}


class KILN_OT_disconnect(bpy.types.Operator):
    """Disconnect from the backend (running jobs keep running there; re-import them later)"""

    bl_idname = "kiln.disconnect"
    bl_label = "Disconnect"

    def execute(self, context):
        session.get().disconnect()
        return {"FINISHED"}


class KILN_OT_start_backend(bpy.types.Operator):
    """Start the local backend from the add-on preferences and connect to it"""

    bl_idname = "kiln.start_backend"
    bl_label = "Start Local Backend"

    def execute(self, context):
        prefs = preferences.get(context)
        try:
            start_local_backend(context)
            session.get().connect(prefs.settings(), wait=bpy.app.background, retry_for=BACKEND_START_WAIT_S)
        except (SessionError, BackendProcessError) as exc:
            return _report_exception(self, exc)
        return {"FINISHED"}


class KILN_OT_stop_backend(bpy.types.Operator):
    """Stop the local backend that Kiln started"""

    bl_idname = "kiln.stop_backend"
    bl_label = "Stop Local Backend"

    @classmethod
    def poll(cls, context):
        if not session.get().backend.running:
            cls.poll_message_set("Kiln did not start a backend that is still running")
            return False
        return True

    def execute(self, context):
        sess = session.get()
        sess.disconnect()
        sess.backend.stop()
        return {"FINISHED"}


class KILN_OT_free_memory(bpy.types.Operator):
    """Ask the backend to unload its models and free their (GPU) memory, e.g. before rendering"""

    bl_idname = "kiln.free_memory"
    bl_label = "Free Model Memory"

    @classmethod
    def poll(cls, context):
        if session.get().state != "connected":
            cls.poll_message_set("Connect to a Kiln backend first")
            return False
        return True

    def execute(self, context):
        session.get().thread.send("unload")
        return {"FINISHED"}


class KILN_OT_open_log(bpy.types.Operator):
    """Open the local backend's log in Blender's text editor"""

    bl_idname = "kiln.open_log"
    bl_label = "Open Backend Log"

    def execute(self, context):
        path = session.get().backend.log_path or preferences.user_dir("logs") / "backend.log"
        if not path.exists():
            self.report({"ERROR"}, f"Kiln: no backend log yet at {path}; start the local backend first")
            return {"CANCELLED"}
        text = bpy.data.texts.get(path.name)
        if text is not None and text.filepath == str(path):
            text.clear()
            text.write(path.read_text(errors="replace"))
        else:
            text = bpy.data.texts.load(str(path))
        for area in context.screen.areas if context.screen else []:
            if area.type == "TEXT_EDITOR":
                area.spaces.active.text = text
                break
        self.report({"INFO"}, f"Kiln: backend log loaded as text '{text.name}'")
        return {"FINISHED"}


# ------------------------------------------------------------------------------------------
# The four ops

class _JobOperator:
    """Shared flow: connect, check the server offers the op, build the request, submit, maybe wait.

    Subclasses define ``build(context, session) -> (params, inputs, JobContext, label)`` and raise
    SceneError for input the op cannot use.
    """

    op_name = ""
    needs_mesh = True

    wait: BoolProperty(name="Wait", default=False, options={"SKIP_SAVE"},
                       description="Block until the job ends and add its result before returning "
                                   "(for scripts; on by default under blender -b, where timers never run)")

    @classmethod
    def poll(cls, context):
        if cls.needs_mesh:
            obj = context.active_object
            if obj is None or obj.type != "MESH":
                cls.poll_message_set("Select a mesh object first (Kiln works on the active object)")
                return False
        return True

    def setting(self, context, name: str, scene_name: str | None = None):
        """The operator property if a script set it, else the scene's panel setting."""
        if self.properties.is_property_set(name):
            return getattr(self, name)
        return getattr(context.scene.kiln, scene_name or name)

    def supported(self, specs: list[dict], wanted: dict) -> dict:
        """The params the server takes; remembers script-set options it would ignore."""
        params, dropped = op_params.supported(specs, wanted)
        self.ignored = [name for name in dropped
                        if name in self.properties.bl_rna.properties and self.properties.is_property_set(name)]
        return params

    def execute(self, context):
        prefs = preferences.get(context)
        sess = session.get()
        wait = should_wait(self)
        self.ignored = []
        try:
            if not wait and sess.state != "connected":
                # never block the UI on the network: connecting is the Connect button's job
                raise SessionError("not connected: press Connect in the Kiln sidebar tab first")
            sess.ensure_connected(prefs.settings())
            ok, reason = sess.op_support(self.op_name)
            if not ok:
                raise SessionError(f"{reason}; update or reconfigure the backend to use {self.bl_label}")
            params, inputs, ctx, label = self.build(context, sess)
            record = sess.submit(self.op_name, params, inputs, ctx, label)
        except (SessionError, scene.SceneError) as exc:
            return _report_exception(self, exc)
        if self.ignored:
            self.report({"WARNING"}, f"Kiln: this backend's {self.op_name} ignores {', '.join(self.ignored)}")
        if not wait:
            self.report({"INFO"}, f"Kiln: {self.op_name} started; follow it in the Jobs panel")
            return {"FINISHED"}
        try:
            sess.wait_for_job(record, on_progress=console_progress() if bpy.app.background else None)
        except SessionError as exc:
            return _report_exception(self, exc)
        if record.state != "done":
            self.report({"ERROR"}, f"Kiln {self.op_name} {record.state}: {record.message}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Kiln: {record.message}")
        if record.warning:
            self.report({"WARNING"}, f"Kiln: {record.warning}")
        return {"FINISHED"}


class KILN_OT_generate(_JobOperator, bpy.types.Operator):
    """Generate a new object from a prompt and/or an image; it lands at the 3D cursor"""

    bl_idname = "kiln.generate"
    bl_label = "Generate"
    bl_options = {"REGISTER", "UNDO"}
    op_name = "generate"
    needs_mesh = False

    prompt: StringProperty(name="Prompt", options={"SKIP_SAVE"})
    image: StringProperty(name="Image", description="Name of a Blender image to condition on",
                          options={"SKIP_SAVE"})
    model: StringProperty(name="Model", description="Model name (empty: the panel's choice)", options={"SKIP_SAVE"})
    seed: IntProperty(name="Seed", min=0, options={"SKIP_SAVE"})
    quality: EnumProperty(name="Quality", items=props.QUALITY, default="STANDARD", options={"SKIP_SAVE"})
    texture: BoolProperty(name="Texture", default=True, options={"SKIP_SAVE"})
    name: StringProperty(name="Name", description="Name of the new object (default: from the prompt)",
                         options={"SKIP_SAVE"})

    def build(self, context, sess):
        settings = context.scene.kiln
        prompt = self.setting(context, "prompt").strip()
        image = bpy.data.images.get(self.image) if self.image else settings.image
        if self.image and image is None:
            raise scene.SceneError(f"there is no image named '{self.image}'")
        if not prompt and image is None:
            raise scene.SceneError("type a prompt or pick an image to generate from")
        specs = (sess.op_info("generate") or {}).get("params", [])
        wanted = {"prompt": prompt, "seed": self.setting(context, "seed"),
                  "model": self.model or settings.model, "texture": self.setting(context, "texture")}
        params = self.supported(specs, wanted)
        params.update(op_params.quality_params(specs, self.setting(context, "quality")))
        inputs = {"image": scene.image_payload(image)} if image is not None else {}
        name = self.name or _name_from_prompt(prompt or image.name)
        return params, inputs, results.context_for("generate", name, context), prompt or image.name


class KILN_OT_retopo(_JobOperator, bpy.types.Operator):
    """Rebuild the active object's topology (modifiers applied); the new object keeps its transform"""

    bl_idname = "kiln.retopo"
    bl_label = "Retopologize"
    bl_options = {"REGISTER", "UNDO"}
    op_name = "retopo"

    target_faces: IntProperty(name="Target Faces", min=4, default=5000, options={"SKIP_SAVE"})
    mode: EnumProperty(name="Mode", items=props.RETOPO_MODES, default="quad", options={"SKIP_SAVE"})
    preserve_sharp: BoolProperty(name="Preserve Sharp Edges", default=True, options={"SKIP_SAVE"})
    symmetry: EnumProperty(name="Symmetry", items=props.SYMMETRY, default="NONE", options={"SKIP_SAVE"})
    keep_original: BoolProperty(name="Keep Original", default=True, options={"SKIP_SAVE"})

    def build(self, context, sess):
        source = context.active_object
        mesh = scene.payload_from_object(source, context.evaluated_depsgraph_get())
        specs = (sess.op_info("retopo") or {}).get("params", [])
        wanted = {"target_faces": self.setting(context, "target_faces"),
                  "mode": self.setting(context, "mode", "retopo_mode"),
                  "preserve_sharp": self.setting(context, "preserve_sharp"),
                  "symmetry": op_params.symmetry_value(sess.param_spec("retopo", "symmetry"),
                                                       self.setting(context, "symmetry"))}
        params = self.supported(specs, wanted)
        ctx = results.context_for("retopo", f"{source.name}_retopo", context, source,
                                  self.setting(context, "keep_original"))
        return params, {"mesh": mesh}, ctx, source.name


class KILN_OT_split_parts(_JobOperator, bpy.types.Operator):
    """Split the active object into parts: one named object per part under a new parent"""

    bl_idname = "kiln.split_parts"
    bl_label = "Split into Parts"
    bl_options = {"REGISTER", "UNDO"}
    op_name = "parts"

    auto_parts: BoolProperty(name="Automatic", default=True, options={"SKIP_SAVE"})
    num_parts: IntProperty(name="Parts", min=2, max=256, default=4, options={"SKIP_SAVE"})
    method: StringProperty(name="Method", description="Segmentation method (empty: the panel's choice)",
                           options={"SKIP_SAVE"})
    keep_original: BoolProperty(name="Keep Original", default=True, options={"SKIP_SAVE"})
    parts_output: EnumProperty(name="Result", items=props.PARTS_OUTPUT, default="OBJECTS", options={"SKIP_SAVE"})

    def build(self, context, sess):
        source = context.active_object
        mesh = scene.payload_from_object(source, context.evaluated_depsgraph_get())
        specs = (sess.op_info("parts") or {}).get("params", [])
        auto = self.setting(context, "auto_parts")
        wanted = {"method": self.method or context.scene.kiln.parts_method,
                  "num_parts": 0 if auto else self.setting(context, "num_parts")}  # 0: the backend decides
        params = self.supported(specs, wanted)
        ctx = results.context_for("parts", f"{source.name}_parts", context, source,
                                  self.setting(context, "keep_original"), self.setting(context, "parts_output"))
        return params, {"mesh": mesh}, ctx, source.name


class KILN_OT_resplit_parts(_JobOperator, bpy.types.Operator):
    """Ask for fewer or more parts, or merge two parts, from the features the server kept for this
    split (no new network pass); the new parts replace the old ones, and parts that still exist
    keep the names given to them"""

    bl_idname = "kiln.resplit_parts"
    bl_label = "Re-split Parts"
    bl_options = {"REGISTER", "UNDO"}
    op_name = "parts"
    needs_mesh = False

    change: EnumProperty(name="Change", items=[("FEWER", "Fewer", "One part fewer"),
                                               ("MORE", "More", "One part more"),
                                               ("MERGE", "Merge", "Join part 'first' and part 'second'")],
                         default="FEWER", options={"SKIP_SAVE"})
    first: IntProperty(name="First Part", min=0, options={"SKIP_SAVE"})
    second: IntProperty(name="Second Part", min=0, options={"SKIP_SAVE"})

    @classmethod
    def poll(cls, context):
        if scene.parts_result(context.active_object) is None:
            cls.poll_message_set("Select the result of a Kiln split (or one of its parts) first")
            return False
        return True

    def build(self, context, sess):
        top = scene.parts_result(context.active_object)
        specs = (sess.op_info("parts") or {}).get("params", [])
        if not any(s.get("name") == "from_job" for s in specs):
            raise scene.SceneError("this backend cannot re-split parts; update it")
        count = int(top.get("kiln_parts_count", 1))
        params = {"from_job": str(top["kiln_parts_job"])}
        if self.change == "MERGE":
            if self.first == self.second or max(self.first, self.second) >= count:
                raise scene.SceneError(f"pick two different parts between 0 and {count - 1} to merge")
            params["merge"] = f"{self.first},{self.second}"
        elif self.change == "FEWER":
            if count <= 1:
                raise scene.SceneError("the object is already one part")
            params["num_parts"] = count - 1
        else:
            params["num_parts"] = count + 1
        if any(s.get("name") == "names" for s in specs):  # renames made in the panel survive the change
            params["names"] = json.dumps({str(i): thing.name for i, thing in scene.listed_parts(top)})
        ctx = results.context_for("parts", top.name, context, top, True,
                                  str(top.get("kiln_parts_output", "OBJECTS")), replaces=top.name)
        return params, {}, ctx, f"{top.name}: {self.change.lower()}"


class KILN_OT_texture(_JobOperator, bpy.types.Operator):
    """Texture the active object from a prompt and/or image: UVs plus PBR images, packed in the .blend"""

    bl_idname = "kiln.texture"
    bl_label = "Texture"
    bl_options = {"REGISTER", "UNDO"}
    op_name = "texture"

    prompt: StringProperty(name="Prompt", options={"SKIP_SAVE"})
    image: StringProperty(name="Image", description="Name of a Blender image to take colours from",
                          options={"SKIP_SAVE"})
    view: EnumProperty(name="Image View", items=props.VIEWS, default="FRONT", options={"SKIP_SAVE"},
                       description="Which side of the object the image shows")
    resolution: IntProperty(name="Resolution", min=64, max=8192, default=1024, options={"SKIP_SAVE"})
    pbr: BoolProperty(name="PBR Maps", default=True, options={"SKIP_SAVE"})
    model: StringProperty(name="Model", options={"SKIP_SAVE"},
                          description="Texture model name (empty: the panel's choice)")
    wear: FloatProperty(name="Wear", default=0.5, min=0.0, max=1.0, options={"SKIP_SAVE"})
    keep_original: BoolProperty(name="Keep Original", default=True, options={"SKIP_SAVE"})

    def build(self, context, sess):
        settings = context.scene.kiln
        source = context.active_object
        prompt = self.setting(context, "prompt", "texture_prompt").strip()
        image = bpy.data.images.get(self.image) if self.image else settings.texture_image
        if self.image and image is None:
            raise scene.SceneError(f"there is no image named '{self.image}'")
        mesh = scene.payload_from_object(source, context.evaluated_depsgraph_get())
        size = self.resolution if self.properties.is_property_set("resolution") else int(settings.texture_size)
        specs = (sess.op_info("texture") or {}).get("params", [])
        wanted = {"prompt": prompt, "pbr": self.setting(context, "pbr"),
                  "resolution": op_params.choice_or_int(sess.param_spec("texture", "resolution"), size),
                  "model": self.model or settings.texture_model, "wear": self.setting(context, "wear")}
        params = self.supported(specs, wanted)
        inputs = {"mesh": mesh}
        if image is not None:
            inputs["image"] = scene.image_payload(image)
            inputs["image"].info["view"] = self.setting(context, "view", "texture_view").lower()
        ctx = results.context_for("texture", f"{source.name}_textured", context, source,
                                  self.setting(context, "keep_original"))
        return params, inputs, ctx, prompt or source.name


def _name_from_prompt(text: str) -> str:
    words = "".join(c if c.isalnum() else " " for c in text).split()
    skip = {"a", "an", "the", "of", "with"}
    name = "_".join(w for w in words if w.lower() not in skip)[:40]
    return name or "kiln_object"


# ------------------------------------------------------------------------------------------
# Jobs

def _find_job(op, ident: str):
    record = session.get().jobs.find(ident)
    if record is None:
        op.report({"ERROR"}, f"Kiln: no job '{ident}' in the job list")
    return record


class KILN_OT_cancel(bpy.types.Operator):
    """Cancel a running job (nothing is added to the scene)"""

    bl_idname = "kiln.cancel"
    bl_label = "Cancel Job"

    job: StringProperty(name="Job", description="Job id (or the list's local key)")
    wait: BoolProperty(name="Wait", default=False, options={"SKIP_SAVE"},
                       description="Block until the backend confirms the job ended")

    def execute(self, context):
        record = _find_job(self, self.job)
        if record is None:
            return {"CANCELLED"}
        sess = session.get()
        if record.final:
            self.report({"WARNING"}, f"Kiln: job {record.display_id} already {record.state}")
            return {"CANCELLED"}
        if not record.job:
            sess.pump(block=0.5, push_undo=False)
        sess.cancel(record)
        if should_wait(self):
            try:
                sess.wait_for_job(record)
            except SessionError as exc:
                return _report_exception(self, exc)
        return {"FINISHED"}


class KILN_OT_reimport(bpy.types.Operator):
    """Fetch a finished job's result from the backend again and add it at the 3D cursor"""

    bl_idname = "kiln.reimport"
    bl_label = "Re-import"
    bl_options = {"REGISTER", "UNDO"}

    job: StringProperty(name="Job", description="Job id (as listed by the backend)")
    wait: BoolProperty(name="Wait", default=False, options={"SKIP_SAVE"},
                       description="Block until the result is in the scene (the default under blender -b)")

    def execute(self, context):
        prefs = preferences.get(context)
        sess = session.get()
        try:
            sess.ensure_connected(prefs.settings())
            record = sess.jobs.find(self.job)
            if record is None:  # a job id from elsewhere (another machine, an earlier session)
                sess.jobs.merge_server_list([{"job": self.job, "op": "?", "state": "done"}])
                record = sess.jobs.find(self.job)
            name = f"kiln_{record.op if record.op != '?' else 'job'}_{record.display_id[:8]}"
            sess.reimport(record, results.context_for(record.op, name, context))
            if not should_wait(self):
                return {"FINISHED"}
            sess.wait_for_job(record)
        except SessionError as exc:
            return _report_exception(self, exc)
        if record.state != "done":
            self.report({"ERROR"}, f"Kiln: re-import of {self.job} failed: {record.message}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Kiln: {record.message}")
        if record.warning:
            self.report({"WARNING"}, f"Kiln: {record.warning}")
        return {"FINISHED"}


class KILN_OT_remove_job(bpy.types.Operator):
    """Remove a finished job from this list (its result stays on the backend and in the scene)"""

    bl_idname = "kiln.remove_job"
    bl_label = "Remove Job"

    job: StringProperty(name="Job")

    def execute(self, context):
        record = _find_job(self, self.job)
        if record is None:
            return {"CANCELLED"}
        if record.active:
            self.report({"ERROR"}, "Kiln: cancel the job before removing it")
            return {"CANCELLED"}
        session.get().jobs.remove(self.job)
        return {"FINISHED"}


class KILN_OT_refresh_jobs(bpy.types.Operator):
    """Ask the backend for its recent jobs (including ones finished while Blender was closed)"""

    bl_idname = "kiln.refresh_jobs"
    bl_label = "Refresh Jobs"

    def execute(self, context):
        session.get().refresh_jobs()
        return {"FINISHED"}


class KILN_OT_report(bpy.types.Operator):
    """Show a Kiln message in the status bar (used when a background job ends)"""

    bl_idname = "kiln.report"
    bl_label = "Kiln Report"
    bl_options = {"INTERNAL"}

    level: StringProperty(default="INFO")
    message: StringProperty(default="")

    def execute(self, context):
        level = self.level if self.level in {"INFO", "WARNING", "ERROR"} else "INFO"
        self.report({level}, self.message)
        return {"FINISHED"}


classes = (KILN_OT_connect, KILN_OT_disconnect, KILN_OT_start_backend, KILN_OT_stop_backend, KILN_OT_open_log,
           KILN_OT_free_memory,
           KILN_OT_generate, KILN_OT_retopo, KILN_OT_split_parts, KILN_OT_resplit_parts, KILN_OT_texture,
           KILN_OT_cancel, KILN_OT_reimport, KILN_OT_remove_job, KILN_OT_refresh_jobs, KILN_OT_report)
