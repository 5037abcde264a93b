"""The folders deployed from on this machine: written 0600 by `proctor deploy`, read by agents,
ignored when someone else could have written them."""

from __future__ import annotations

import os

from proctor.agent.deployed_folders import FILE_NAME, deployed_folders, remember_deployed_folder


def test_a_remembered_folder_is_read_back_real_and_once(tmp_path):
    home, project = tmp_path / "home", tmp_path / "proj"
    project.mkdir()
    link = tmp_path / "link"
    link.symlink_to(project)
    assert deployed_folders(home) == ()  # no file yet
    assert remember_deployed_folder(link, home) == project.resolve()
    remember_deployed_folder(project, home)
    assert deployed_folders(home) == (project.resolve(),)
    assert (home / FILE_NAME).stat().st_mode & 0o777 == 0o600


def test_folders_that_no_longer_exist_are_left_out(tmp_path):
    home, gone, kept = tmp_path / "home", tmp_path / "gone", tmp_path / "kept"
    gone.mkdir()
    kept.mkdir()
    remember_deployed_folder(gone, home)
    remember_deployed_folder(kept, home)
    gone.rmdir()
    assert deployed_folders(home) == (kept.resolve(),)


def test_a_file_others_can_write_is_not_trusted(tmp_path):
    home, project = tmp_path / "home", tmp_path / "proj"
    project.mkdir()
    remember_deployed_folder(project, home)
    os.chmod(home / FILE_NAME, 0o666)
    assert deployed_folders(home) == ()


def test_lines_that_are_not_absolute_folders_are_ignored(tmp_path):
    home, project = tmp_path / "home", tmp_path / "proj"
    project.mkdir()
    home.mkdir()
    path = home / FILE_NAME
    path.write_text(f"relative/path\n\n{project}\n{tmp_path / 'missing'}\n")
    os.chmod(path, 0o600)
    assert deployed_folders(home) == (project.resolve(),)
